// `berth proxy-config --kind nginx|haproxy`: a reverse-proxy configuration
// for the configured server, for those who keep a proxy in front of Berth
// (docs/operations.md, "Behind a reverse proxy"). Berth needs none for its
// repository ports and subdomains; a proxy that is there must stream bodies
// both ways (no size limit, no request buffering), pass Host through, and
// send X-Forwarded-For/-Proto, which Berth believes only from
// server.trusted_proxies.
#pragma once

#include <string>
#include <vector>

#include "berth/config.h"

namespace berth::ops {

struct ProxyConfigOptions {
  std::string kind;                                // nginx | haproxy
  std::string server_name = "registry.example.com";  // the name clients use
  std::string listen;                              // the proxy's address or port; "" = 443 (80 with plain_http)
  bool plain_http = false;                         // no TLS at the proxy (a TLS terminator further out, tests)
  std::string cert = "/etc/ssl/private/registry.pem";  // the proxy's certificate (haproxy: cert + key in one file)
  std::string key = "/etc/ssl/private/registry.key";
};

// The configuration text. Throws std::invalid_argument for an unknown kind.
std::string proxyConfig(const config::Config& cfg, const ProxyConfigOptions& o);

// The subcommand: args are what follows "proxy-config". Exit code: 0 printed,
// 1 the config could not be loaded, 2 bad arguments.
int runProxyConfig(const std::vector<std::string>& args, const std::string& config_path);

}  // namespace berth::ops
