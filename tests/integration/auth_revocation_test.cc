// Changing a user's password, disabling or deleting the user ends every
// session made before: refresh tokens, Bearer tokens and cached Basic checks,
// also after a restart (the credential epoch is persisted).
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;
using J = nlohmann::json;

const Headers kJson{{"Content-Type", "application/json"}};
const Headers kForm{{"Content-Type", "application/x-www-form-urlencoded"}};
const std::string kDev = "/v2/docker-dev/app";

class RevocationTest : public SecureTest {
 protected:
  void SetUp() override {
    SecureTest::SetUp();
    ASSERT_EQ(as("root").pushImage(kDev, makeImage(), "1").status, 201);
    ASSERT_EQ(putUser({{"password", "Bob-Pass-1"}, {"groups", {"devs"}}}), 201);
  }
  int putUser(const J& body) { return as("root").put("/api/security/users/bob", body.dump(), kJson).status; }
  // A password login's Bearer and refresh tokens.
  std::pair<std::string, std::string> session(const std::string& password) {
    auto r = http_.post("/v2/token",
                        "grant_type=password&username=bob&password=" + password +
                            "&service=x&access_type=offline&scope=repository%3Adocker-dev%2Fapp%3Apull",
                        kForm);
    EXPECT_EQ(r.status, 200) << r.describe();
    return {r.json().value("access_token", ""), r.json().value("refresh_token", "")};
  }
  int refresh(const std::string& token) {
    return http_.post("/v2/token", "grant_type=refresh_token&service=x&refresh_token=" + token, kForm).status;
  }
  int basicLogin(const std::string& password) {
    return http_.get("/v2/", {{"Authorization", basic("bob", password)}}).status;
  }
  int bearerPull(const std::string& token) { return withBearer(token).getManifest(kDev, "1").status; }
};

TEST_F(RevocationTest, APasswordResetEndsEverySessionOfBefore) {
  auto [bearer, refresh_token] = session("Bob-Pass-1");
  ASSERT_EQ(basicLogin("Bob-Pass-1"), 200);  // now cached
  ASSERT_EQ(bearerPull(bearer), 200);
  ASSERT_EQ(refresh(refresh_token), 200);
  ASSERT_EQ(putUser({{"password", "Bob-Pass-2"}, {"groups", {"devs"}}}), 200);
  EXPECT_EQ(refresh(refresh_token), 401) << "30-day refresh tokens die with the old password";
  EXPECT_EQ(bearerPull(bearer), 401);
  EXPECT_EQ(basicLogin("Bob-Pass-1"), 401) << "no cached check of the old password";
  EXPECT_EQ(basicLogin("Bob-Pass-2"), 200);
  auto [bearer2, refresh2] = session("Bob-Pass-2");
  EXPECT_EQ(bearerPull(bearer2), 200);
  EXPECT_EQ(refresh(refresh2), 200);
  // A restart forgets nothing: the old tokens stay dead, the new ones live.
  restartDaemon();
  EXPECT_EQ(refresh(refresh_token), 401);
  EXPECT_EQ(refresh(refresh2), 200);
  EXPECT_EQ(basicLogin("Bob-Pass-1"), 401);
}

TEST_F(RevocationTest, DisablingEndsEverySessionAndLoginForGood) {
  auto [bearer, refresh_token] = session("Bob-Pass-1");
  auto token = as("root").post("/api/security/token", R"({"username":"bob"})", kJson).json()["access_token"];
  ASSERT_EQ(As(http_, {{"Authorization", basic("bob", token)}}).getManifest(kDev, "1").status, 200);
  ASSERT_EQ(putUser({{"groups", {"devs"}}, {"disabled", true}}), 200);
  EXPECT_EQ(as("root").get("/api/security/users/bob").json().value("disabled", false), true);
  EXPECT_EQ(refresh(refresh_token), 401);
  EXPECT_EQ(bearerPull(bearer), 401);
  EXPECT_EQ(basicLogin("Bob-Pass-1"), 401);
  EXPECT_EQ(As(http_, {{"Authorization", basic("bob", token)}}).getManifest(kDev, "1").status, 401);
  EXPECT_EQ(withBearer(token).getManifest(kDev, "1").status, 401);
  // Enabled again: the password works, the old sessions do not come back.
  ASSERT_EQ(putUser({{"groups", {"devs"}}, {"disabled", false}}), 200);
  EXPECT_EQ(basicLogin("Bob-Pass-1"), 200);
  EXPECT_EQ(refresh(refresh_token), 401);
  EXPECT_EQ(bearerPull(bearer), 401);
}

TEST_F(RevocationTest, DeletingEndsEverySession) {
  auto [bearer, refresh_token] = session("Bob-Pass-1");
  ASSERT_EQ(basicLogin("Bob-Pass-1"), 200);
  ASSERT_EQ(as("root").del("/api/security/users/bob").status, 204);
  EXPECT_EQ(refresh(refresh_token), 401);
  EXPECT_EQ(bearerPull(bearer), 401);
  EXPECT_EQ(basicLogin("Bob-Pass-1"), 401);
}

TEST_F(RevocationTest, ABearerTokenFromARevokedAccessTokenDiesWithIt) {
  auto created = as("root").post("/api/security/token", R"({"username":"bob"})", kJson).json();
  std::string secret = created["access_token"];
  auto r = As(http_, {{"Authorization", basic("bob", secret)}})
               .get("/v2/token?service=x&scope=repository:docker-dev/app:pull");
  ASSERT_EQ(r.status, 200) << r.describe();
  std::string bearer = r.json()["token"];
  ASSERT_EQ(bearerPull(bearer), 200);
  ASSERT_EQ(as("root").del("/api/security/token/" + created["token_id"].get<std::string>()).status, 204);
  EXPECT_EQ(bearerPull(bearer), 401);
}

}  // namespace
}  // namespace berth::it
