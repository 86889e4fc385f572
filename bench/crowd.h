// A crowd of cheap connections held open against a server while the normal
// load runs: idle keep-alive connections, request headers that never finish,
// upload bodies that trickle. One thread and one epoll set hold all of them
// (non-blocking sockets, a few hundred bytes each), so that thousands of
// connections cost the load tool little memory and CPU on a machine whose
// cores the server shares.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common.h"
#include "net.h"

namespace berth_bench {

struct CrowdSpec {
  int idle = 0;          // send GET /v2/, read the answer, then stay open and silent
  int slow_headers = 0;  // connect; from startTrickle() send a request header one line at a time, never ending it
  int slow_bodies = 0;   // POST an upload session; from startTrickle() PATCH it a few bytes at a time
  std::string upload_repo = "docker-local/bench/crowd";
  // Connections per source address (127.1.0.1, 127.1.0.2, ...), so that a per-client limit sees many
  // clients as it would in the field; 0 = let the kernel pick (all from 127.0.0.1). IPv4 targets only.
  int per_source = 250;
  double header_interval_s = 5;  // one more header line per slow-header connection this often
  double body_interval_s = 1;    // one more tick of body per slow-body connection this often
  int body_bytes_per_tick = 4;
  uint64_t body_declared = 1 * MiB;  // the PATCH's Content-Length (never reached)
  int max_pending = 256;             // connects and first requests in flight at once
  double setup_timeout_s = 60;       // open() gives up waiting for the stragglers after this
};

// The crowd's connections live on a thread of their own from open() to close().
class Crowd {
 public:
  Crowd(const Target& t, CrowdSpec spec);
  ~Crowd();  // close()
  Crowd(const Crowd&) = delete;
  Crowd& operator=(const Crowd&) = delete;

  // Opens every connection and makes its first request (idle: GET /v2/; slow bodies: POST an upload);
  // returns once each one is ready, refused, or setup_timeout_s has passed.
  void open();
  // The slow connections start trickling; they count as cut from now on when the server ends them.
  void startTrickle();
  // Per kind: requested, ready (held or trickling), refused (connect failed, answered with an error,
  // closed before being ready), no answer yet, cut by the server since, and when; times are seconds
  // since open() began. Taken by the crowd's thread at its next turn (within ~50 ms).
  json snapshot();
  // Seconds since open() began.
  double elapsed() const;
  // Closes every connection and stops the thread.
  void close();
  // The upload sessions the slow bodies opened (paths), once closed: the caller may cancel them.
  std::vector<std::string> uploadSessions() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Raises RLIMIT_NOFILE's soft limit to the hard one; returns the limit now in force.
long raiseFileLimit();

}  // namespace berth_bench
