// TLS: HTTPS on the listening port with a self-signed certificate made by the
// openssl CLI at test time; plain HTTP on that port refused (400) or
// redirected (301 to https://); the token realm follows the scheme.
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;

class TlsTest : public SecureTest {
 protected:
  void SetUp() override {
    makeSelfSignedCert(daemon_.dir());
    opts_.tls_cert = daemon_.dir() + "/cert.pem";
    opts_.tls_key = daemon_.dir() + "/key.pem";
    SecureTest::SetUp();
  }
  std::string ca() const { return daemon_.dir() + "/cert.pem"; }
  std::string req(const std::string& method, const std::string& target, const std::string& auth = {},
                  const std::string& body = {}, const std::string& extra = {}) {
    std::string r = method + " " + target + " HTTP/1.1\r\nHost: " + hostPort() + "\r\n";
    if (!auth.empty()) r += "Authorization: " + auth + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT")
      r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return r + extra + "Connection: close\r\n\r\n" + body;
  }
  RawResponse https(const std::string& request) { return tlsExchange(daemon_.port(), ca(), request); }
};

TEST_F(TlsTest, HttpsServesTheRegistryAndTheRealmIsHttps) {
  RawResponse r = https(req("GET", "/v2/"));
  EXPECT_EQ(r.status, 401) << r.head;
  EXPECT_EQ(r.header("WWW-Authenticate"),
            "Bearer realm=\"https://" + hostPort() + "/v2/token\",service=\"" + hostPort() + "\"");
  r = https(req("GET", "/v2/", basic("reader", "reader-pw")));
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, "{}");
  r = https(req("GET", "/v2/docker-prod/x/manifests/1"));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.header("WWW-Authenticate").find("realm=\"https://"), std::string::npos) << r.head;
}

TEST_F(TlsTest, TokenFlowPushAndPullOverHttps) {
  RawResponse r = https(req("GET", "/v2/token?service=" + hostPort() + "&scope=repository:docker-dev/app:pull,push",
                            basic("deployer", "deployer-pw")));
  ASSERT_EQ(r.status, 200) << r.head << r.body;
  std::string bearer = "Bearer " + nlohmann::json::parse(r.body)["token"].get<std::string>();
  Blob big = Blob::random(3 * 1024 * 1024 + 17);
  r = https(req("POST", "/v2/docker-dev/app/blobs/uploads/?digest=" + big.digest, bearer, big.bytes,
                "Content-Type: application/octet-stream\r\n"));
  ASSERT_EQ(r.status, 201) << r.head << r.body;
  EXPECT_EQ(r.header("Docker-Content-Digest"), big.digest);
  r = https(req("GET", "/v2/docker-dev/app/blobs/" + big.digest, basic("reader", "reader-pw")));
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body.size(), big.bytes.size());
  EXPECT_TRUE(r.body == big.bytes) << "the blob came back changed";
  r = https(req("GET", "/v2/docker-dev/app/blobs/" + big.digest, basic("prodonly", "prodonly-pw")));
  EXPECT_EQ(r.status, 403);
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortIsRefused) {
  auto r = http_.get("/v2/", basicAuth("reader"));
  EXPECT_EQ(r.status, 400) << r.describe();
  EXPECT_EQ(r.header("Location"), "");
  r = http_.get("/v2/docker-dev/app/manifests/1", basicAuth("reader"));
  EXPECT_EQ(r.status, 400) << r.describe();
  // No password sent in clear text got anyone in, and HTTPS still works.
  EXPECT_EQ(https(req("GET", "/v2/", basic("reader", "reader-pw"))).status, 200);
}

TEST_F(TlsTest, AnUntrustedCertificateFailsVerification) {
  std::string other = makeTempDir();
  makeSelfSignedCert(other);
  EXPECT_THROW(tlsExchange(daemon_.port(), other + "/cert.pem", req("GET", "/v2/")), std::runtime_error);
  std::system(("rm -rf '" + other + "'").c_str());
  EXPECT_EQ(https(req("GET", "/v2/")).status, 401);
}

TEST_F(TlsTest, SilentAndBrokenClientsHoldNobodyUp) {
  Socket silent("127.0.0.1", daemon_.port());  // connects, says nothing
  Socket half("127.0.0.1", daemon_.port());
  ASSERT_TRUE(half.writeAll(std::string("\x16\x03\x01\x00\x10garbage-garbage!", 21)));  // a broken ClientHello
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(https(req("GET", "/v2/", basic("reader", "reader-pw"))).status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  char buf[64];
  std::size_t n = 0;
  try {
    n = half.readSome(buf, sizeof buf);  // an alert or a close, not a hang
  } catch (const std::exception&) {
  }
  EXPECT_LT(n, sizeof buf);
  EXPECT_EQ(https(req("GET", "/v2/", basic("root", "root-pw"))).status, 200);
}

class TlsRedirectTest : public TlsTest {
 protected:
  void SetUp() override {
    opts_.redirect_plain_http = true;
    TlsTest::SetUp();
  }
};

TEST_F(TlsRedirectTest, PlainHttpIsRedirectedToHttps) {
  for (const std::string target : {"/v2/", "/v2/docker-dev/app/tags/list?n=1"}) {
    SCOPED_TRACE(target);
    auto r = http_.get(target, basicAuth("reader"));
    EXPECT_EQ(r.status, 301) << r.describe();
    EXPECT_EQ(r.header("Location"), "https://" + hostPort() + target);
  }
  EXPECT_EQ(https(req("GET", "/v2/docker-dev/app/tags/list?n=1", basic("reader", "reader-pw"))).status, 404);
}

TEST(TlsConfigTest, AMissingOrBadCertificateStopsTheStart) {
  for (bool missing : {true, false}) {
    SCOPED_TRACE(missing ? "missing files" : "key does not match");
    Daemon d(DaemonOptions{{"docker-dev"}});
    SecurityOptions o;
    o.repositories = {"docker-local", "docker-dev", "docker-prod"};
    if (missing) {
      o.tls_cert = d.dir() + "/nosuch-cert.pem";
      o.tls_key = d.dir() + "/nosuch-key.pem";
    } else {
      std::string a = d.dir() + "/a", b = d.dir() + "/b";
      std::system(("mkdir -p '" + a + "' '" + b + "'").c_str());
      makeSelfSignedCert(a);
      makeSelfSignedCert(b);
      o.tls_cert = a + "/cert.pem";
      o.tls_key = b + "/key.pem";
    }
    writeFile(d.configPath(), configYaml(o, d.storageRoot()));
    EXPECT_THROW(d.start(), std::runtime_error);
    EXPECT_FALSE(d.running());
  }
}

}  // namespace
}  // namespace berth::it
