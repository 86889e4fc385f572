// TLS of the outbound client: a self-signed CA given as ca_file, host name
// checks (IP and DNS), SNI, an untrusted CA, and HTTPS through a CONNECT proxy.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <mutex>

#include "http/client.h"
#include "unit/http/client_test_support.h"

namespace berth::http {
namespace {

using testing::clientOptions;
using testing::ConnectProxy;
using testing::getRequest;
using testing::okResponse;
using testing::SeenRequest;
using testing::TestConn;
using testing::TestServer;

class HttpClientTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/berth-client-tls-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    testing::makeCertificate(dir_);
    ctx_ = testing::serverContext(dir_);
  }
  static void TearDownTestSuite() {
    SSL_CTX_free(ctx_);
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  // An HTTPS server on `address` that answers "secure" and records the SNI.
  std::unique_ptr<TestServer> server(const char* address = "127.0.0.1") {
    return std::make_unique<TestServer>(
        [this](TestConn& c, int) {
          const char* sni = SSL_get_servername(c.ssl(), TLSEXT_NAMETYPE_host_name);
          {
            std::lock_guard lock(mu_);
            sni_.push_back(sni ? sni : "");
          }
          SeenRequest req;
          while (c.readRequest(req)) c.send(okResponse("secure"));
        },
        address, ctx_);
  }
  ClientOptions trusting() {
    ClientOptions o = clientOptions();
    o.ca_file = dir_ + "/cert.pem";
    return o;
  }
  std::vector<std::string> sni() {
    std::lock_guard lock(mu_);
    return sni_;
  }

  static inline std::string dir_;
  static inline SSL_CTX* ctx_ = nullptr;
  std::mutex mu_;
  std::vector<std::string> sni_;
};

TEST_F(HttpClientTls, ACaFromCaFileIsTrustedForTheAddressAndTheName) {
  auto s = server();
  HttpClient client(trusting());
  for (const std::string& url : {s->url("/v2/"), s->url("/v2/"), "https://localhost:" + std::to_string(s->port()) + "/v2/"}) {
    auto res = client.send(getRequest(url), nullptr);
    ASSERT_TRUE(res) << url << ": " << res.error().message;
    EXPECT_EQ(*(*res)->readAll(100), "secure");
  }
  EXPECT_EQ(s->connections(), 2) << "one kept-alive connection per origin";
  EXPECT_EQ(sni(), (std::vector<std::string>{"", "localhost"})) << "SNI carries names, never addresses";
}

TEST_F(HttpClientTls, ACertificateForAnotherHostIsRefused) {
  auto s = server("127.0.0.2");  // the certificate names 127.0.0.1 and localhost only
  HttpClient client(trusting());
  auto res = client.send(getRequest(s->url("/v2/")), nullptr);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::Unavailable);
  const std::string& m = res.error().message;
  EXPECT_EQ(m.rfind("upstream " + s->hostPort() + ": TLS handshake failed", 0), 0u) << m;
  EXPECT_NE(m.find("IP address mismatch"), std::string::npos) << m;
}

TEST_F(HttpClientTls, AnUntrustedCaIsRefused) {
  auto s = server();
  HttpClient client(clientOptions());  // the system store only
  auto res = client.send(getRequest(s->url("/v2/")), nullptr);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::Unavailable);
  EXPECT_NE(res.error().message.find("TLS handshake failed"), std::string::npos) << res.error().message;
  EXPECT_NE(res.error().message.find("self-signed"), std::string::npos) << res.error().message;
  EXPECT_EQ(res.error().message.find(dir_), std::string::npos) << "no file paths in messages";
}

TEST_F(HttpClientTls, AnUnreadableCaFileStopsTheConstructorNamingIt) {
  ClientOptions o = clientOptions();
  o.ca_file = dir_ + "/missing.pem";
  try {
    HttpClient client(o);
    FAIL() << "constructed with a missing CA file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(o.ca_file), std::string::npos) << e.what();
  }
  o.ca_file = dir_ + "/openssl.log";  // readable, but no certificate in it
  EXPECT_THROW(HttpClient{o}, std::runtime_error);
}

TEST_F(HttpClientTls, HttpsGoesThroughAConnectTunnelUnlessNoProxySaysOtherwise) {
  auto s = server();
  ConnectProxy proxy;
  ClientOptions o = trusting();
  o.proxy.https_proxy = proxy.url();
  std::string url = "https://localhost:" + std::to_string(s->port()) + "/v2/";
  {
    HttpClient client(o);
    for (int i = 0; i < 2; ++i) {
      auto res = client.send(getRequest(url), nullptr);
      ASSERT_TRUE(res) << res.error().message;
      EXPECT_EQ(*(*res)->readAll(100), "secure");
    }
  }
  EXPECT_EQ(proxy.targets(), (std::vector<std::string>{"CONNECT localhost:" + std::to_string(s->port())}))
      << "one tunnel, kept alive for the second request";
  EXPECT_EQ(sni(), (std::vector<std::string>{"localhost"})) << "TLS inside the tunnel names the target";

  o.proxy.no_proxy = "example.com,LOCALHOST";
  HttpClient direct(o);
  auto res = direct.send(getRequest(url), nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(proxy.targets().size(), 1u) << "NO_PROXY bypasses the proxy";
}

TEST_F(HttpClientTls, ATunnelTheProxyRefusesIsUnavailable) {
  ConnectProxy proxy;
  uint16_t closed_port;
  {
    TestServer gone([](TestConn&, int) {});
    closed_port = gone.port();
  }
  ClientOptions o = trusting();
  o.proxy.https_proxy = proxy.url();
  HttpClient client(o);
  auto res = client.send(getRequest("https://127.0.0.1:" + std::to_string(closed_port) + "/"), nullptr);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().message, "upstream 127.0.0.1:" + std::to_string(closed_port) + " via proxy " +
                                     proxy.url().substr(7) + ": the proxy refused the tunnel (502)");
}

}  // namespace
}  // namespace berth::http
