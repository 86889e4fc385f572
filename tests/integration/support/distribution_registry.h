// Debian's docker-registry (CNCF distribution 2.8.2, /usr/bin/docker-registry)
// as a child process: an upstream not written here. Its config, storage,
// certificates and log live in a fresh temp dir, removed on destruction.
//
// Modes, combinable: plain; `auth: token` trusting a TokenIssuer of the test;
// TLS with a CA made here (caFile() for ca_file, certDir() for skopeo);
// `proxy: remoteurl:` (a pull-through cache of another registry: pushes are
// refused then). The binary is installed with scripts/deps.sh when missing.
//
// Not thread-safe: drive it from one thread. Failures throw std::runtime_error
// with the tail of the registry's log.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "integration/support/http_client.h"
#include "integration/support/pki.h"

namespace berth::it {

class TokenIssuer;

struct DistributionOptions {
  const TokenIssuer* token_auth = nullptr;  // `auth: token` with this realm, service, issuer and key
  bool tls = false;
  std::string proxy_remote_url = {};  // non-empty: a pull-through cache of this URL
  std::string proxy_username = {}, proxy_password = {};
  // validation.manifests.urls.allow (a regular expression): layers with `urls`
  // (foreign layers) are refused unless they match. "" = distribution's default.
  std::string manifest_urls_allow = {};
  std::string log_level = "warn";
  bool access_log = false;  // one line per request in log(), for requestsLogged()
};

class DistributionRegistry {
 public:
  // Writes the config and starts the registry (start()).
  explicit DistributionRegistry(DistributionOptions options = {});
  ~DistributionRegistry();  // kills a registry still running, removes the temp dir
  DistributionRegistry(const DistributionRegistry&) = delete;
  DistributionRegistry& operator=(const DistributionRegistry&) = delete;

  // Starts on a free loopback port (the previous one when there was one and it
  // is still free) and waits until /v2/ answers.
  void start();
  // SIGTERM, then SIGKILL after 5 s; returns at once when not running.
  void stop();
  bool running() const { return pid_ > 0; }

  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  std::string url() const;           // "http(s)://127.0.0.1:<port>"
  std::string hostPort() const { return host_ + ":" + std::to_string(port_); }
  const std::string& caFile() const { return tls_.ca_file; }   // "" without TLS
  const std::string& certDir() const { return tls_.cert_dir; }  // holds ca.crt
  // A client for it (TLS against caFile() when TLS is on).
  HttpClient client() const;

  const std::string& dir() const { return dir_; }
  std::string storageRoot() const { return dir_ + "/data"; }
  // Whether its storage holds this blob's content ("sha256:..."). A proxy
  // stores what it fetched in the background (with a second upstream GET),
  // after the client already has it: poll this before stopping its upstream.
  bool hasBlob(const std::string& digest) const;
  std::string log() const;
  // Requests its access log recorded with this method and exact target
  // ("GET", "/v2/app/blobs/sha256:..."); needs access_log.
  int requestsLogged(const std::string& method, const std::string& target) const;

  // The registry binary, installed with scripts/deps.sh test when missing.
  static std::string binary();

 private:
  bool tryStart(uint16_t port);  // false when the port was taken
  void writeConfig(uint16_t port) const;
  [[noreturn]] void fail(const std::string& why);

  DistributionOptions options_;
  std::string dir_;
  TlsFiles tls_;
  std::string host_ = "127.0.0.1";
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// A loopback port that was free a moment ago (bound to port 0, then released).
uint16_t pickFreePort(const std::string& host = "127.0.0.1");

}  // namespace berth::it
