// Concurrent drivers: N workers, each with its own keep-alive connection.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common.h"
#include "net.h"

namespace berth_bench {

class Args;

// Runs `work(worker, conn)` on N workers, each with its own connection; the first error wins.
void runWorkers(const Target& t, int workers, const std::function<void(int, Conn&)>& work);

// Closed-loop load: `conns` workers, each one keep-alive connection, for `seconds` after a warm-up.
struct LoadSpec {
  int conns = 64;
  double seconds = 10, warmup = 1;
  uint64_t max_requests = 5'000'000;
  int expect = 200;
  // Ends the measured part early once it returns true (checked every 5 ms after the warm-up).
  std::function<bool()> stop_when;
  // Report instead of failing when requests fail or get another status; then only answers with the
  // expected status count towards the latencies and `ok_rps`.
  bool tolerate_failures = false;
  // Fills in the worker's next request; `rq` and `scratch` are the worker's own and persist between calls.
  std::function<void(int worker, uint64_t iter, Req& rq, std::string& scratch)> make;
};

// --conns, --seconds, --warmup, --max-requests.
LoadSpec loadSpecFrom(const Args& a);

// Requests/s, latency percentiles, errors and the server probe over the measured part.
json runLoad(const Target& t, const LoadSpec& s, int pid);

}  // namespace berth_bench
