// `berth proxy-config`: what each kind must say for registry clients to work
// through the proxy (tests/e2e/proxy_test.sh runs nginx with it for real).
#include <gtest/gtest.h>

#include <stdexcept>

#include "ops/proxy_config.h"

namespace berth::ops {
namespace {

config::Config withPortAndSubdomains() {
  return config::loadFromString(
      "server: {listen: \"0.0.0.0:5000\", subdomain_base: registry.test}\n"
      "repositories:\n  - {key: docker-local, type: local}\n  - {key: docker-remote, type: remote, port: 5002}\n",
      "t.yml");
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ProxyConfig, NginxStreamsPassesHostAndCoversPortsAndSubdomains) {
  ProxyConfigOptions o;
  o.kind = "nginx";
  std::string c = proxyConfig(withPortAndSubdomains(), o);
  for (const char* line : {"client_max_body_size 0;", "proxy_request_buffering off;", "proxy_buffering off;",
                           "proxy_set_header Host $http_host;", "proxy_set_header X-Forwarded-Proto $scheme;",
                           "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", "listen 443 ssl;",
                           "server 127.0.0.1:5000;", "server_name registry.example.com *.registry.test;",
                           "proxy_pass http://berth;", "listen 5002 ssl;", "server 127.0.0.1:5002;",
                           "proxy_pass http://berth_docker_remote;"})
    EXPECT_TRUE(has(c, line)) << line << "\n" << c;
  EXPECT_TRUE(has(c, "WARNING: server.trusted_proxies is empty")) << c;
}

TEST(ProxyConfig, PlainHttpAndAnAddressOfTheProxysOwn) {
  ProxyConfigOptions o;
  o.kind = "nginx";
  o.plain_http = true;
  o.listen = "127.0.0.1:8080";
  auto cfg = withPortAndSubdomains();
  cfg.server.trusted_proxies = {"127.0.0.1/32"};
  std::string c = proxyConfig(cfg, o);
  EXPECT_TRUE(has(c, "listen 127.0.0.1:8080;")) << c;
  EXPECT_TRUE(has(c, "listen 127.0.0.1:5002;")) << c;
  EXPECT_FALSE(has(c, "ssl_certificate")) << c;
  EXPECT_FALSE(has(c, "WARNING")) << c;
}

TEST(ProxyConfig, HaproxySetsTheForwardedHeadersAndTlsToATlsBerth) {
  ProxyConfigOptions o;
  o.kind = "haproxy";
  auto cfg = withPortAndSubdomains();
  cfg.server.tls.cert = "/c.pem";
  cfg.server.tls.key = "/k.pem";
  std::string c = proxyConfig(cfg, o);
  for (const char* line : {"option forwardfor", "http-request set-header X-Forwarded-Proto https",
                           "bind :443 ssl crt /etc/ssl/private/registry.pem", "server berth 127.0.0.1:5000 ssl verify none",
                           "frontend berth_docker_remote", "bind :5002 ssl"})
    EXPECT_TRUE(has(c, line)) << line << "\n" << c;
  EXPECT_FALSE(has(c, "\n  option http-buffer-request")) << c;
}

TEST(ProxyConfig, UnknownKindIsRefused) {
  ProxyConfigOptions o;
  o.kind = "apache";
  EXPECT_THROW(proxyConfig(withPortAndSubdomains(), o), std::invalid_argument);
  EXPECT_EQ(runProxyConfig({"--kind", "apache"}, ""), 2);
  EXPECT_EQ(runProxyConfig({"--bogus"}, ""), 2);
}

}  // namespace
}  // namespace berth::ops
