// Docker token authentication: the token endpoint (GET with Basic or
// anonymous, OAuth2 POST with password and refresh_token), the granted actions,
// expiry and tampering (signature, alg none, payload, garbage, refresh tokens
// used as access tokens), and /v2/auth.
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;
using J = nlohmann::json;

const std::string kDev = "/v2/docker-dev/app";

class TokenTest : public SecureTest {
 protected:
  Response tokenGet(const std::string& who, const std::string& query, const std::string& family = "/v2") {
    return (who.empty() ? anon() : as(who)).get(family + "/token?service=" + hostPort() + query);
  }
  Response tokenPost(const std::string& form) {
    return http_.post("/v2/token", form, {{"Content-Type", "application/x-www-form-urlencoded"}});
  }
  static J grantsOf(const std::string& token) {
    J out = J::object();
    const J claims = Jwt::split(token).claims();
    for (const auto& a : claims["access"]) out[a["name"].get<std::string>()] = a["actions"];
    return out;
  }
  std::string signingKey() { return unbase64(readFile(daemon_.storageRoot() + "/token-signing.key")); }
};

TEST_F(TokenTest, GetWithBasicAnswersTheDockerTokenDocument) {
  auto r = tokenGet("deployer", "&scope=repository:docker-dev/app:pull,push");
  ASSERT_EQ(r.status, 200) << r.describe();
  auto j = r.json();
  ASSERT_TRUE(j.contains("token") && j["token"].is_string()) << r.body;
  EXPECT_EQ(j["access_token"], j["token"]);
  EXPECT_EQ(j["expires_in"], 300);
  EXPECT_TRUE(j["issued_at"].is_string() && j["issued_at"].get<std::string>().ends_with("Z")) << r.body;
  EXPECT_FALSE(j.contains("refresh_token")) << "only with offline_token=true";
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  Jwt t = Jwt::split(j["token"]);
  EXPECT_EQ(t.head()["alg"], "HS256");
  auto claims = t.claims();
  EXPECT_EQ(claims["sub"], "deployer");
  EXPECT_EQ(claims["access"], J::parse(R"([{"type":"repository","name":"docker-dev/app","actions":["pull","push"]}])"));
  EXPECT_EQ(claims["exp"].get<int64_t>() - claims["iat"].get<int64_t>(), 300);
  // The token works for the push it grants.
  As bearer = withBearer(j["token"]);
  EXPECT_EQ(bearer.get("/v2/").status, 200);
  EXPECT_EQ(bearer.pushImage(kDev, makeImage(), "1").status, 201);
  EXPECT_EQ(bearer.getManifest(kDev, "1").status, 200);
}

TEST_F(TokenTest, GrantIsTheIntersectionOfAskedAndAllowed) {
  std::string q = "&scope=repository:docker-dev/app:pull,push,delete&scope=repository:docker-prod/x:pull";
  EXPECT_EQ(grantsOf(tokenGet("reader", q).json()["token"]),
            J::parse(R"({"docker-dev/app":["pull"],"docker-prod/x":[]})"));
  EXPECT_EQ(grantsOf(tokenGet("deployer", q).json()["token"]),
            J::parse(R"({"docker-dev/app":["pull","push"],"docker-prod/x":[]})"));
  EXPECT_EQ(grantsOf(tokenGet("deleter", q).json()["token"]),
            J::parse(R"({"docker-dev/app":["delete","pull","push"],"docker-prod/x":[]})"));
  EXPECT_EQ(grantsOf(tokenGet("root", q).json()["token"]),
            J::parse(R"({"docker-dev/app":["delete","pull","push"],"docker-prod/x":["pull"]})"));
  // Several scopes in one parameter (space separated), and no scope at all.
  EXPECT_EQ(
      grantsOf(
          tokenGet("reader", "&scope=repository:docker-dev/a:pull%20repository:docker-dev/b:push").json()["token"]),
      J::parse(R"({"docker-dev/a":["pull"],"docker-dev/b":[]})"));
  auto r = tokenGet("reader", "");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(Jwt::split(r.json()["token"]).claims()["access"], J::array());
  // An empty grant is a token, not an error; it opens nothing.
  r = tokenGet("reader", "&scope=repository:docker-prod/x:pull");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(withBearer(r.json()["token"]).getManifest("/v2/docker-prod/x", "1").status, 403);
}

TEST_F(TokenTest, TheRealmUnderARouteFamilyScopesToItsRepository) {
  auto r = tokenGet("deployer", "&scope=repository:app:pull,push", "/api/docker/docker-dev/v2");
  ASSERT_EQ(r.status, 200) << r.describe();
  std::string token = r.json()["token"];
  EXPECT_EQ(grantsOf(token), J::parse(R"({"docker-dev/app":["pull","push"]})"));
  EXPECT_EQ(withBearer(token).pushBlob("/api/docker/docker-dev/v2/app", "x").status, 201);
  r = tokenGet("deployer", "&scope=repository:app:pull,push", "/artifactory/api/docker/docker-prod/v2");
  EXPECT_EQ(grantsOf(r.json()["token"]), J::parse(R"({"docker-prod/app":[]})"));
}

TEST_F(TokenTest, BadCredentialsAtTheTokenEndpointAre401) {
  EXPECT_API_ERROR(
      http_.get("/v2/token?scope=repository:docker-dev/app:pull", {{"Authorization", basic("reader", "x")}}), 401,
      "UNAUTHORIZED");
  EXPECT_API_ERROR(http_.get("/v2/token", {{"Authorization", basic("ghost", "x")}}), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(tokenPost("grant_type=password&username=reader&password=nope&service=x"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(tokenPost("grant_type=refresh_token&refresh_token=garbage&service=x"), 401, "UNAUTHORIZED");
  auto r = tokenPost("grant_type=client_credentials&service=x");
  EXPECT_TRUE(r.status == 400 || r.status == 401) << r.describe();
  EXPECT_EQ(r.json().value("token", ""), "") << r.describe();
}

TEST_F(TokenTest, OAuthPasswordGrantAndRefreshToken) {
  auto r = tokenPost("grant_type=password&username=deployer&password=deployer-pw&service=" + hostPort() +
                     "&scope=repository%3Adocker-dev%2Fapp%3Apull%2Cpush&access_type=offline&client_id=test");
  ASSERT_EQ(r.status, 200) << r.describe();
  auto j = r.json();
  EXPECT_EQ(grantsOf(j["access_token"]), J::parse(R"({"docker-dev/app":["pull","push"]})"));
  ASSERT_TRUE(j.contains("refresh_token")) << r.body;
  std::string refresh = j["refresh_token"];
  // A refresh token is not an access token.
  EXPECT_API_ERROR(withBearer(refresh).get("/v2/"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(withBearer(refresh).getManifest(kDev, "1"), 401, "UNAUTHORIZED");
  r = tokenPost("grant_type=refresh_token&refresh_token=" + refresh + "&service=" + hostPort() +
                "&scope=repository%3Adocker-dev%2Fapp%3Apull");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(grantsOf(r.json()["access_token"]), J::parse(R"({"docker-dev/app":["pull"]})"));
  EXPECT_EQ(Jwt::split(r.json()["access_token"]).claims()["sub"], "deployer");
  // An access token is not a refresh token.
  r = tokenPost("grant_type=refresh_token&refresh_token=" + j["access_token"].get<std::string>() + "&service=x");
  EXPECT_API_ERROR(r, 401, "UNAUTHORIZED");
  // GET with offline_token=true also answers a refresh token.
  r = tokenGet("reader", "&offline_token=true&scope=repository:docker-dev/app:pull");
  EXPECT_TRUE(r.json().contains("refresh_token")) << r.body;
}

TEST_F(TokenTest, RefreshTokensDieWithTheirUser) {
  const Headers json{{"Content-Type", "application/json"}};
  ASSERT_EQ(as("root").put("/api/security/users/bob", R"({"password":"Bob-Pass-1","groups":["devs"]})", json).status,
            201);
  auto r = tokenPost("grant_type=password&username=bob&password=Bob-Pass-1&service=x&access_type=offline");
  ASSERT_EQ(r.status, 200) << r.describe();
  std::string refresh = r.json()["refresh_token"];
  ASSERT_EQ(tokenPost("grant_type=refresh_token&refresh_token=" + refresh + "&service=x").status, 200);
  ASSERT_EQ(as("root").del("/api/security/users/bob").status, 204);
  EXPECT_API_ERROR(tokenPost("grant_type=refresh_token&refresh_token=" + refresh + "&service=x"), 401, "UNAUTHORIZED");
  // Another user later given the same name does not inherit the old sessions.
  ASSERT_EQ(as("root").put("/api/security/users/bob", R"({"password":"Bob-Pass-2"})", json).status, 201);
  r = tokenPost("grant_type=refresh_token&refresh_token=" + refresh + "&service=x");
  EXPECT_EQ(r.status, 401) << "the deleted user's refresh token works for the new bob: " << r.describe();
}

TEST_F(TokenTest, AnonymousTokensCarryOnlyAnonymousGrants) {
  auto r = tokenGet("", "&scope=repository:docker-local/public/x:pull,push&scope=repository:docker-dev/app:pull");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(Jwt::split(r.json()["token"]).claims()["sub"], "anonymous");
  EXPECT_EQ(grantsOf(r.json()["token"]), J::parse(R"({"docker-local/public/x":["pull"],"docker-dev/app":[]})"));
  EXPECT_FALSE(tokenGet("", "&offline_token=true").json().contains("refresh_token"));
  // A valid (anonymous) token passes the version check, so a client that pings
  // again with its token is not challenged in a loop.
  auto ping = withBearer(r.json()["token"]).get("/v2/");
  EXPECT_EQ(ping.status, 200) << ping.describe();
}

TEST_F(TokenTest, InsufficientScopeSendsTheClientBackForANewToken) {
  // The user may push, the token says pull only: the distribution token spec
  // answers 401 with error="insufficient_scope" and the scope to ask for, so the
  // client fetches a wider token (a 403 would end the push).
  std::string pull_only = dockerToken("deleter", {"repository:docker-dev/app:pull"});
  auto r = withBearer(pull_only).post(kDev + "/blobs/uploads/");
  EXPECT_EQ(r.status, 401) << r.describe();
  EXPECT_NE(r.header("WWW-Authenticate").find("scope=\"repository:docker-dev/app:pull,push\""), std::string::npos)
      << r.describe();
  EXPECT_NE(r.header("WWW-Authenticate").find("error=\"insufficient_scope\""), std::string::npos) << r.describe();
  r = withBearer(pull_only).get("/v2/docker-dev/other/tags/list");
  EXPECT_EQ(r.status, 401) << "a token for docker-dev/app says nothing about docker-dev/other: " << r.describe();
  // Where the user himself lacks the permission, 403 stays right.
  EXPECT_API_ERROR(
      withBearer(dockerToken("reader", {"repository:docker-dev/app:pull,push"})).post(kDev + "/blobs/uploads/"), 403,
      "DENIED");
}

TEST_F(TokenTest, TamperedTokensAreRefused) {
  ASSERT_EQ(as("root").pushImage(kDev, makeImage(), "1").status, 201);
  std::string good = dockerToken("reader", {"repository:docker-dev/app:pull"});
  ASSERT_EQ(withBearer(good).getManifest(kDev, "1").status, 200);
  Jwt t = Jwt::split(good);

  std::vector<std::pair<std::string, std::string>> bad;
  Jwt flipped = t;
  flipped.signature[5] = flipped.signature[5] == 'A' ? 'B' : 'A';
  bad.emplace_back("flipped signature byte", flipped.str());
  Jwt truncated = t;
  truncated.signature.pop_back();
  bad.emplace_back("truncated signature", truncated.str());
  Jwt no_sig = t;
  no_sig.signature.clear();
  bad.emplace_back("no signature", no_sig.str());
  J claims = t.claims();
  claims["access"][0]["actions"] = J::array({"pull", "push", "delete"});
  claims["sub"] = "root";
  Jwt widened = t;
  widened.payload = base64(claims.dump(), true);
  bad.emplace_back("payload changed, old signature", widened.str());
  for (const char* alg_none : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"None"})", R"({"alg":"NONE"})"}) {
    bad.emplace_back(std::string("alg ") + alg_none, base64(alg_none, true) + "." + widened.payload + ".");
    bad.emplace_back(std::string("alg ") + alg_none + " with old sig",
                     base64(alg_none, true) + "." + t.payload + "." + t.signature);
  }
  bad.emplace_back("alg HS512 header",
                   base64(R"({"alg":"HS512","typ":"JWT"})", true) + "." + t.payload + "." + t.signature);
  bad.emplace_back("signed with another key", signHs256(claims, "not the server's key, not at all......"));
  bad.emplace_back("garbage", "garbage");
  bad.emplace_back("three dots", "a.b.c");
  bad.emplace_back("empty parts", "..");
  bad.emplace_back("base64 of JSON", base64(claims.dump()));
  for (const auto& [what, token] : bad) {
    SCOPED_TRACE(what);
    EXPECT_API_ERROR(withBearer(token).getManifest(kDev, "1"), 401, "UNAUTHORIZED");
    EXPECT_API_ERROR(withBearer(token).get("/v2/"), 401, "UNAUTHORIZED");
    EXPECT_EQ(withBearer(token).pushBlob(kDev, "x").status, 401);
  }
  EXPECT_EQ(as("root").head(kDev + "/blobs/" + sha256Of("x")).status, 404);
  // Control characters are not even a valid header value.
  auto r = withBearer(std::string("\x01\x02\x7f", 3)).getManifest(kDev, "1");
  EXPECT_TRUE(r.status == 400 || r.status == 401) << r.describe();
}

TEST_F(TokenTest, ForgedClaimsNeedTheKeyAndAreStillChecked) {
  // With the server's key (read from the storage root) the signature is right;
  // the other checks still apply.
  std::string key = signingKey();
  ASSERT_GE(key.size(), 32u);
  int64_t now = std::time(nullptr);
  // Start from a real token's claims: they carry the user's uid, which a
  // forger would have to know as well as the key.
  J base = Jwt::split(dockerToken("reader", {"repository:docker-dev/app:pull"})).claims();
  base["iat"] = now;
  base["nbf"] = now - 1;
  base["exp"] = now + 60;
  ASSERT_EQ(withBearer(signHs256(base, key)).get("/v2/").status, 200) << "the forging itself works";
  J expired = base;
  expired["exp"] = now - 10;
  expired["iat"] = expired["nbf"] = now - 100;
  EXPECT_API_ERROR(withBearer(signHs256(expired, key)).get("/v2/"), 401, "UNAUTHORIZED");
  J future = base;
  future["nbf"] = now + 3600;
  EXPECT_API_ERROR(withBearer(signHs256(future, key)).get("/v2/"), 401, "UNAUTHORIZED");
  J ghost = base;
  ghost["sub"] = "ghost";
  EXPECT_API_ERROR(withBearer(signHs256(ghost, key)).get("/v2/"), 401, "UNAUTHORIZED");
  J refresh = base;
  refresh["typ"] = "refresh";
  EXPECT_API_ERROR(withBearer(signHs256(refresh, key)).get("/v2/"), 401, "UNAUTHORIZED");
  // Claims cannot widen a user's permissions: access is checked against both.
  J wide = base;
  wide["access"] = J::parse(R"([{"type":"repository","name":"docker-prod/x","actions":["pull","push"]}])");
  EXPECT_EQ(withBearer(signHs256(wide, key)).pushBlob("/v2/docker-prod/x", "x").status, 403);
  EXPECT_EQ(withBearer(signHs256(wide, key)).getBlob("/v2/docker-prod/x", sha256Of("x")).status, 403);
}

class ShortTokenTest : public TokenTest {
 protected:
  void SetUp() override {
    // Seconds resolution: 3 s leave a slow (sanitized) first use at least 2 s.
    opts_.token_expiry_seconds = 3;
    TokenTest::SetUp();
  }
};

TEST_F(ShortTokenTest, TokensExpire) {
  ASSERT_EQ(as("root").pushImage(kDev, makeImage(), "1").status, 201);
  auto r = tokenGet("reader", "&scope=repository:docker-dev/app:pull");
  EXPECT_EQ(r.json()["expires_in"], 3);
  std::string token = r.json()["token"];
  EXPECT_EQ(withBearer(token).getManifest(kDev, "1").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(4100));
  EXPECT_API_ERROR(withBearer(token).getManifest(kDev, "1"), 401, "UNAUTHORIZED");
  EXPECT_API_ERROR(withBearer(token).get("/v2/"), 401, "UNAUTHORIZED");
  // The expired token's challenge sends the client back for a new one.
  EXPECT_NE(withBearer(token).getManifest(kDev, "1").header("WWW-Authenticate").find("realm="), std::string::npos);
  EXPECT_EQ(as("reader").getManifest(kDev, "1").status, 200) << "Basic still works";
}

TEST_F(TokenTest, AuthEndpointAnswersADockerConfigSnippet) {
  for (const std::string target : {"/v2/auth", "/api/docker/docker-dev/v2/auth"}) {
    SCOPED_TRACE(target);
    auto r = as("reader").get(target);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.json(), J({{"auths", {{hostPort(), {{"auth", base64("reader:reader-pw")}}}}}})) << r.body;
    EXPECT_API_ERROR(anon().get(target), 401, "UNAUTHORIZED");
    EXPECT_API_ERROR(http_.get(target, {{"Authorization", basic("reader", "wrong")}}), 401, "UNAUTHORIZED");
    EXPECT_API_ERROR(withBearer(dockerToken("reader", {})).get(target), 401, "UNAUTHORIZED");
  }
}

}  // namespace
}  // namespace berth::it
