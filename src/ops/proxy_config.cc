#include "ops/proxy_config.h"

#include <iostream>
#include <sstream>
#include <stdexcept>

namespace berth::ops {
namespace {

// Where the proxy reaches Berth: its listen address, with a wildcard made
// the loopback address of the same family.
std::string upstreamHost(const std::string& listen_host) {
  if (listen_host.empty() || listen_host == "0.0.0.0") return "127.0.0.1";
  if (listen_host == "::") return "[::1]";
  if (listen_host.find(':') != std::string::npos) return "[" + listen_host + "]";
  return listen_host;
}

// The proxy's own listen address for `port`: the host part of --listen, if any.
std::string proxyAddress(const std::string& listen, unsigned port) {
  auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon + 1);
  return host + std::to_string(port);
}

struct Site {
  std::string name;      // upstream / backend name
  std::string comment;   // what it is for
  std::string listen;    // the proxy's address or port
  std::string upstream;  // host:port of Berth
};

std::vector<Site> sites(const config::Config& cfg, const ProxyConfigOptions& o) {
  auto hp = config::parseListen(cfg.server.listen);
  const std::string host = upstreamHost(hp.host);
  std::string listen = o.listen.empty() ? (o.plain_http ? "80" : "443") : o.listen;
  std::vector<Site> out{{"berth", "Berth's main port: every repository as /v2/<repoKey>/<image>", listen,
                         host + ":" + std::to_string(hp.port)}};
  for (const auto& r : cfg.repositories) {
    if (r.port == 0) continue;
    std::string name = "berth_" + r.key;
    for (char& ch : name)
      if (ch == '-' || ch == '.') ch = '_';
    out.push_back({name, "repository " + r.key + "'s own port (config port: " + std::to_string(r.port) + ")",
                   proxyAddress(listen, r.port), host + ":" + std::to_string(r.port)});
  }
  return out;
}

std::string trustNote(const config::Config& cfg) {
  if (!cfg.server.trusted_proxies.empty())
    return "# Berth believes X-Forwarded-For/-Proto from server.trusted_proxies; this proxy's address must be in it.\n";
  return "# WARNING: server.trusted_proxies is empty, so Berth ignores X-Forwarded-For/-Proto from this\n"
         "# proxy: it logs the proxy's address as the client's and, behind TLS here, sends clients to\n"
         "# http:// token realms. Add the proxy's address, e.g.  server: {trusted_proxies: [\"127.0.0.1/32\"]}\n";
}

std::string nginx(const config::Config& cfg, const ProxyConfigOptions& o) {
  const bool berth_tls = cfg.server.tls.enabled();
  std::ostringstream out;
  out << "# nginx configuration for Berth, from `berth proxy-config --kind nginx`.\n"
         "# Goes in the http {} context, e.g. /etc/nginx/conf.d/berth.conf.\n"
      << trustNote(cfg);
  std::string names = o.server_name;
  if (!cfg.server.subdomain_base.empty())
    names += " *." + cfg.server.subdomain_base;  // Berth maps <repoKey>.<base> itself, from Host
  for (const auto& s : sites(cfg, o)) {
    out << "\n# " << s.comment << "\n"
        << "upstream " << s.name << " {\n  server " << s.upstream << ";\n  keepalive 32;\n}\n"
        << "server {\n  listen " << s.listen << (o.plain_http ? "" : " ssl") << ";\n"
        << "  server_name " << names << ";\n";
    if (!o.plain_http)
      out << "  ssl_certificate " << o.cert << ";\n  ssl_certificate_key " << o.key << ";\n";
    out << "  # Layers are gigabytes: no size limit, and bodies stream both ways.\n"
           "  client_max_body_size 0;\n"
           "  proxy_request_buffering off;\n"
           "  proxy_buffering off;\n"
           "  proxy_http_version 1.1;\n"
           "  proxy_set_header Connection \"\";\n"
           "  # Host as the client sent it: token realms, Location headers and subdomains use it.\n"
           "  proxy_set_header Host $http_host;\n"
           "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
           "  proxy_set_header X-Forwarded-Proto $scheme;\n"
           "  proxy_read_timeout 900s;\n"
           "  proxy_send_timeout 900s;\n"
        << "  location / {\n    proxy_pass " << (berth_tls ? "https://" : "http://") << s.name << ";\n";
    if (berth_tls) out << "    proxy_ssl_server_name on;\n";
    out << "  }\n}\n";
  }
  return out.str();
}

std::string haproxy(const config::Config& cfg, const ProxyConfigOptions& o) {
  const bool berth_tls = cfg.server.tls.enabled();
  std::ostringstream out;
  out << "# HAProxy configuration for Berth, from `berth proxy-config --kind haproxy`.\n"
      << trustNote(cfg)
      << "# HAProxy streams bodies and sets no size limit by default (no option http-buffer-request).\n"
         "defaults\n"
         "  mode http\n"
         "  option forwardfor\n"
         "  timeout connect 5s\n"
         "  timeout http-request 30s\n"
         "  timeout client 15m\n"
         "  timeout server 15m\n";
  for (const auto& s : sites(cfg, o)) {
    out << "\n# " << s.comment << "\n"
        << "frontend " << s.name << "\n  bind " << (s.listen.find(':') == std::string::npos ? ":" : "") << s.listen;
    if (!o.plain_http) out << " ssl crt " << o.cert;
    out << "\n";
    if (o.plain_http)
      out << "  http-request set-header X-Forwarded-Proto http\n";
    else
      out << "  http-request set-header X-Forwarded-Proto https\n";
    out << "  default_backend " << s.name << "\n"
        << "backend " << s.name << "\n  server " << s.name << " " << s.upstream
        << (berth_tls ? " ssl verify none" : "") << "\n";
  }
  return out.str();
}

}  // namespace

std::string proxyConfig(const config::Config& cfg, const ProxyConfigOptions& o) {
  if (o.kind == "nginx") return nginx(cfg, o);
  if (o.kind == "haproxy") return haproxy(cfg, o);
  throw std::invalid_argument("--kind must be nginx or haproxy");
}

int runProxyConfig(const std::vector<std::string>& args, const std::string& config_path) {
  ProxyConfigOptions o;
  std::string path = config_path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--kind" && has_value) {
      o.kind = args[++i];
    } else if (a == "--server-name" && has_value) {
      o.server_name = args[++i];
    } else if (a == "--listen" && has_value) {
      o.listen = args[++i];
    } else if (a == "--cert" && has_value) {
      o.cert = args[++i];
    } else if (a == "--key" && has_value) {
      o.key = args[++i];
    } else if (a == "--config" && has_value) {
      path = args[++i];
    } else if (a == "--plain-http") {
      o.plain_http = true;
    } else {
      std::cerr << "berth proxy-config: unknown argument '" << a << "'\n"
                << "usage: berth proxy-config --kind nginx|haproxy [--config FILE] [--server-name NAME]\n"
                   "                          [--listen [HOST:]PORT] [--plain-http] [--cert FILE] [--key FILE]\n";
      return 2;
    }
  }
  if (o.kind != "nginx" && o.kind != "haproxy") {
    std::cerr << "berth proxy-config: --kind must be nginx or haproxy\n";
    return 2;
  }
  try {
    auto cfg = path.empty() ? config::loadDefault() : config::loadFromFile(path);
    std::cout << proxyConfig(cfg, o);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "berth proxy-config: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace berth::ops
