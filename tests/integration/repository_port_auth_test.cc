// Token auth and TLS on a repository's own listener (config `port:`): the
// challenge's realm is that port's /v2/token, whose scopes name images of
// that repository, and the port speaks TLS when the server does.
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;

// The standard secured model (auth_support.h); docker-dev has the port.
class RepositoryPortAuthTest : public SecureTest {
 protected:
  void SetUp() override {
    opts_.repository_extra = {{"docker-dev", "port: " + std::to_string(port_)}};
    SecureTest::SetUp();
    port_http_.retarget("127.0.0.1", port_);
  }
  void TearDown() override {
    port_http_.close();
    SecureTest::TearDown();
  }
  std::string portHost() const { return "127.0.0.1:" + std::to_string(port_); }
  As onPort(const std::string& user) { return As(port_http_, user.empty() ? Headers{} : basicAuth(user)); }
  // A token from the port's token endpoint, as `who` ("" = anonymous).
  std::string portToken(const std::string& who, const std::string& scope) {
    auto r = onPort(who).get("/v2/token?service=" + portHost() + "&scope=" + scope);
    EXPECT_EQ(r.status, 200) << r.describe();
    return r.json().value("token", "");
  }

  uint16_t port_ = freeLoopbackPort();
  HttpClient port_http_{"127.0.0.1", 0};
};

TEST_F(RepositoryPortAuthTest, TheChallengePointsAtThePortsTokenEndpoint) {
  auto base = port_http_.get("/v2/");
  EXPECT_EQ(base.status, 401) << base.describe();
  EXPECT_EQ(base.header("WWW-Authenticate"),
            "Bearer realm=\"http://" + portHost() + "/v2/token\",service=\"" + portHost() + "\"");
  auto m = port_http_.get("/v2/app/manifests/1");
  EXPECT_EQ(m.status, 401) << m.describe();
  EXPECT_EQ(m.header("WWW-Authenticate"), "Bearer realm=\"http://" + portHost() + "/v2/token\",service=\"" +
                                              portHost() + "\",scope=\"repository:app:pull\"");
}

TEST_F(RepositoryPortAuthTest, ATokenFromThePortGrantsImagesOfItsRepository) {
  std::string token = portToken("deployer", "repository:library/app:pull,push");
  auto claims = Jwt::split(token).claims();
  EXPECT_EQ(claims["access"], nlohmann::json::parse(
                                  R"([{"type":"repository","name":"docker-dev/library/app","actions":["pull","push"]}])"));
  Image img = makeImage();
  As bearer(port_http_, bearerAuth(token));
  auto pushed = bearer.pushImage("/v2/library/app", img, "1");
  EXPECT_EQ(pushed.status, 201) << pushed.describe();
  EXPECT_EQ(bearer.getManifest("/v2/library/app", "1").status, 200);
  // The same image is docker-dev/library/app on the main port.
  EXPECT_EQ(as("reader").getManifest("/v2/docker-dev/library/app", "1").status, 200);
  // The anonymous handshake works there as on the main port (docker pull through a mirror).
  std::string anon_token = portToken("", "repository:library/app:pull");
  EXPECT_EQ(Jwt::split(anon_token).claims()["access"][0]["actions"], nlohmann::json::array())
      << "anonymous may read nothing in docker-dev";
  EXPECT_EQ(As(port_http_, bearerAuth(anon_token)).getManifest("/v2/library/app", "1").status, 401);
}

TEST_F(RepositoryPortAuthTest, PermissionsAreThoseOfThePortsRepository) {
  // patterned may deploy docker-local/app, nothing in docker-dev.
  std::string token = portToken("patterned", "repository:app:pull,push");
  EXPECT_EQ(Jwt::split(token).claims()["access"][0]["actions"], nlohmann::json::array());
  Blob b = Blob::random(32);
  auto denied = onPort("patterned").pushBlob("/v2/app", b.bytes);
  EXPECT_EQ(denied.status, 403) << denied.describe();
  auto ok = onPort("deployer").pushBlob("/v2/app", b.bytes);
  EXPECT_EQ(ok.status, 201) << ok.describe();
  EXPECT_EQ(onPort("reader").getBlob("/v2/app", b.digest).body, b.bytes);
  EXPECT_EQ(onPort("prodonly").getBlob("/v2/app", b.digest).status, 403);
}

class RepositoryPortTlsTest : public RepositoryPortAuthTest {
 protected:
  void SetUp() override {
    makeSelfSignedCert(daemon_.dir());
    opts_.tls_cert = daemon_.dir() + "/cert.pem";
    opts_.tls_key = daemon_.dir() + "/key.pem";
    RepositoryPortAuthTest::SetUp();
  }
};

TEST_F(RepositoryPortTlsTest, ThePortSpeaksTlsAndItsRealmIsHttps) {
  std::string ca = daemon_.dir() + "/cert.pem";
  auto get = [&](const std::string& target, const std::string& auth = {}) {
    return tlsExchange(port_, ca,
                       "GET " + target + " HTTP/1.1\r\nHost: " + portHost() + "\r\n" +
                           (auth.empty() ? "" : "Authorization: " + auth + "\r\n") + "Connection: close\r\n\r\n");
  };
  RawResponse r = get("/v2/");
  EXPECT_EQ(r.status, 401) << r.head;
  EXPECT_EQ(r.header("WWW-Authenticate"),
            "Bearer realm=\"https://" + portHost() + "/v2/token\",service=\"" + portHost() + "\"");
  r = get("/v2/token?service=" + portHost() + "&scope=repository:app:pull", basic("reader", "reader-pw"));
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(port_http_.get("/v2/").status, 400) << "plain HTTP on a TLS port is refused there too";
}

}  // namespace
}  // namespace berth::it
