// Hostile input around authentication: repeated failed logins (counted per user
// and address; 429 for wrong passwords over the limit, never for a right one),
// X-Forwarded-* from trusted proxies only, and oversized headers.
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;

class ThrottleTest : public SecureTest {
 protected:
  void SetUp() override {
    opts_.failed_logins_before_delay = 3;
    SecureTest::SetUp();
  }
  std::string request(const std::string& authorization, const std::string& target = "/v2/") {
    return "GET " + target + " HTTP/1.1\r\nHost: " + hostPort() + "\r\nAuthorization: " + authorization +
           "\r\nConnection: close\r\n\r\n";
  }
  RawResponse from(const std::string& address, const std::string& user, const std::string& password) {
    return rawExchange(address, daemon_.port(), request(basic(user, password)));
  }
};

TEST_F(ThrottleTest, FailuresCountPerUserAndAddressAndNeverStopTheRightPassword) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(from("127.0.0.1", "reader", "wrong").status, 401) << "attempt " << i + 1;
  // Over failed_logins_before_delay, wrong passwords get 429 with Retry-After.
  RawResponse fourth = from("127.0.0.1", "reader", "wrong");
  ASSERT_EQ(fourth.status, 429) << "attempt 4 after 3 failures (failed_logins_before_delay: 3):\n" << fourth.head;
  EXPECT_NE(fourth.body.find("TOOMANYREQUESTS"), std::string::npos) << fourth.body;
  EXPECT_EQ(fourth.header("Retry-After"), "1") << fourth.head;
  EXPECT_EQ(from("127.0.0.1", "reader", "wrong").header("Retry-After"), "2");
  // The right password goes through at once: the failures may be anyone's
  // behind the same address (a proxy), and must not lock the user out.
  RawResponse right = from("127.0.0.1", "reader", "reader-pw");
  EXPECT_EQ(right.status, 200) << right.head << right.body;
  // One user's failures never touch another user from the same address.
  EXPECT_EQ(from("127.0.0.1", "root", "root-pw").status, 200);
  EXPECT_EQ(from("127.0.0.1", "root", "wrong").status, 401);
  EXPECT_EQ(from("127.0.0.2", "deployer", "wrong").status, 401);
  // The OAuth form at the token endpoint counts the same way.
  auto form = [&](const std::string& password) {
    std::string body = "grant_type=password&username=deleter&password=" + password + "&service=x";
    return rawExchange("127.0.0.3", daemon_.port(),
                       "POST /v2/token HTTP/1.1\r\nHost: " + hostPort() +
                           "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(form("wrong").status, 401);
  RawResponse r = form("wrong");
  EXPECT_EQ(r.status, 429) << r.head;
  EXPECT_NE(r.header("Retry-After"), "") << r.head;
  EXPECT_EQ(form("deleter-pw").status, 200);
  EXPECT_EQ(from("127.0.0.3", "deleter", "wrong").status, 401) << "a right password starts the pair afresh";
}

TEST_F(ThrottleTest, UnknownUsersAndBadTokensCountAsFailures) {
  EXPECT_EQ(from("127.0.0.4", "reader", "berth_0000").status, 401);
  EXPECT_EQ(from("127.0.0.4", "reader", "x").status, 401);
  EXPECT_EQ(from("127.0.0.4", "reader", "y").status, 401);
  EXPECT_EQ(from("127.0.0.4", "reader", "z").status, 429);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(from("127.0.0.4", "ghost", "x").status, 401);
  EXPECT_EQ(from("127.0.0.4", "ghost", "x").status, 429) << "an unknown name is throttled as a known one";
  EXPECT_EQ(from("127.0.0.4", "ghost2", "x").status, 401);
}

TEST_F(ThrottleTest, SuccessfulLoginsAreNeverThrottled) {
  for (int i = 0; i < 30; ++i) ASSERT_EQ(as("reader").get("/v2/").status, 200) << i;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(from("127.0.0.1", "root", "root-pw").status, 200) << i;
}

// X-Forwarded-For and X-Forwarded-Proto count only from server.trusted_proxies.
class ProxyTest : public ThrottleTest {
 protected:
  void SetUp() override {
    opts_.trusted_proxies = "[127.0.0.1/32, \"::1/128\"]";
    ThrottleTest::SetUp();
  }
  RawResponse via(const std::string& peer, const std::string& headers, const std::string& authorization,
                  const std::string& target = "/v2/") {
    std::string auth = authorization.empty() ? "" : "Authorization: " + authorization + "\r\n";
    return rawExchange(peer, daemon_.port(),
                       "GET " + target + " HTTP/1.1\r\nHost: " + hostPort() + "\r\n" + auth + headers +
                           "Connection: close\r\n\r\n");
  }
  std::string realmVia(const std::string& peer, const std::string& headers) {
    return via(peer, headers, "", "/v2/docker-prod/app/manifests/1").header("WWW-Authenticate");
  }
};

TEST_F(ProxyTest, TheClientBehindATrustedProxyIsWhatTheThrottleAndTheLogSee) {
  auto wrong = [&](const std::string& peer, const std::string& xff) {
    return via(peer, "X-Forwarded-For: " + xff + "\r\n", basic("reader", "wrong")).status;
  };
  // What a client writes left of our proxy's entry is ignored: the right-most
  // untrusted address is the client, whatever it claims.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(wrong("127.0.0.1", "198.51.100." + std::to_string(i) + ", 10.1.1.1"), 401);
  EXPECT_EQ(wrong("127.0.0.1", "10.1.1.1"), 429);
  EXPECT_EQ(wrong("127.0.0.1", "10.1.1.2"), 401) << "another client behind the same proxy";
  EXPECT_NE(daemon_.log().find("auth failure from 10.1.1.1"), std::string::npos) << daemon_.log();
  // Not from a trusted proxy: the header is ignored, the peer is the client.
  EXPECT_EQ(wrong("127.0.0.2", "10.1.1.1"), 401);
  EXPECT_NE(daemon_.log().find("auth failure from 127.0.0.2"), std::string::npos) << daemon_.log();
}

TEST_F(ProxyTest, OnlyATrustedProxySetsTheRealmsScheme) {
  std::string http_realm = "Bearer realm=\"http://" + hostPort() + "/v2/token\"";
  std::string https_realm = "Bearer realm=\"https://" + hostPort() + "/v2/token\"";
  EXPECT_TRUE(realmVia("127.0.0.1", "X-Forwarded-Proto: https\r\n").starts_with(https_realm));
  EXPECT_TRUE(realmVia("127.0.0.1", "").starts_with(http_realm));
  std::string forged = realmVia("127.0.0.2", "X-Forwarded-Proto: https\r\nX-Forwarded-For: 127.0.0.1\r\n");
  EXPECT_TRUE(forged.starts_with(http_realm)) << forged;
}

TEST_F(ThrottleTest, AForgedForwardedProtoDoesNotChangeTheRealm) {
  // No trusted proxies (the default): nobody's X-Forwarded-Proto is believed.
  for (const char* proto : {"https", "ftp", "https, https"}) {
    auto r = http_.get("/v2/docker-prod/app/manifests/1", {{"X-Forwarded-Proto", proto}});
    EXPECT_EQ(r.status, 401);
    EXPECT_TRUE(r.header("WWW-Authenticate").starts_with("Bearer realm=\"http://" + hostPort() + "/v2/token\""))
        << proto << ": " << r.describe();
  }
  auto r = http_.get("/v2/token?service=x", {{"X-Forwarded-Proto", "https"}, {"Authorization", basic("root", "x")}});
  EXPECT_EQ(r.header("WWW-Authenticate"), "Basic realm=\"Berth\"");
}

using HeaderLimitTest = SecureTest;

TEST_F(HeaderLimitTest, LongAuthorizationHeadersAre401) {
  std::string big(8 * 1024, 'A');
  for (const std::string& h : {"Basic " + big, "Basic " + base64("reader:" + big), "Bearer " + big,
                               "Bearer " + big + "." + big + "." + big, "Basic " + base64(big + ":reader-pw")}) {
    SCOPED_TRACE(h.substr(0, 12) + "... (" + std::to_string(h.size()) + " bytes)");
    auto r = http_.get("/v2/", {{"Authorization", h}});
    EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
    r = http_.get("/v2/docker-dev/app/manifests/1", {{"Authorization", h}});
    EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  }
  EXPECT_EQ(as("reader").get("/v2/").status, 200);
}

TEST_F(HeaderLimitTest, HugeHeadersAreRefusedAtTheConnection) {
  auto expectRefused = [&](const std::string& headers) {
    RawResponse r =
        rawExchange("127.0.0.1", daemon_.port(),
                    "GET /v2/ HTTP/1.1\r\nHost: " + hostPort() + "\r\n" + headers + "Connection: close\r\n\r\n");
    EXPECT_TRUE(r.status == 431 || r.status == 400) << r.head << "\n" << r.body.substr(0, 200);
  };
  expectRefused("X-Big: " + std::string(70 * 1024, 'a') + "\r\n");
  expectRefused("Authorization: Basic " + std::string(70 * 1024, 'A') + "\r\n");
  std::string many;
  for (int i = 0; i < 100; ++i) many += "X-H" + std::to_string(i) + ": " + std::string(1000, 'b') + "\r\n";
  expectRefused(many);
  // The daemon is fine afterwards.
  EXPECT_EQ(as("reader").get("/v2/").status, 200);
  EXPECT_EQ(as("root").pushImage("/v2/docker-dev/app", makeImage(), "1").status, 201);
}

}  // namespace
}  // namespace berth::it
