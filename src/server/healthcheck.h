// `berth healthcheck`: asks the berth that this config describes whether it
// is ready (GET /health/ready over loopback), for a container's HEALTHCHECK,
// where the slim image has no curl. Exit 0 when it answers 200, 1 otherwise.
#pragma once

#include <string>

#include "berth/config.h"

namespace berth::server {

struct HealthcheckOptions {
  // host:port to ask; "" = server.listen, with a wildcard host (0.0.0.0, ::)
  // asked on its loopback address (127.0.0.1, ::1).
  std::string address;
  std::string path = "/health/ready";
  unsigned timeout_seconds = 5;  // the whole check: connect, TLS, answer
};

// Prints one line (the status and the body's first 200 bytes, or why no
// answer came) and returns the exit code. TLS when server.tls is set, without
// verifying the certificate: the peer is this host's own daemon and nothing
// secret is sent.
int runHealthcheck(const config::Config& cfg, const HealthcheckOptions& options);

}  // namespace berth::server
