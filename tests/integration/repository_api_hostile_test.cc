// The repository management API against hostile callers (docs/api.md,
// "Repositories"): bodies of the wrong types, and a manager who would send
// a remote's stored password to a server of their own.
#include "integration/auth_support.h"

namespace berth::it {
namespace {

using nlohmann::json;

class RepositoryApiHostileTest : public authit::SecureTest {
 protected:
  RepositoryApiHostileTest() {
    // alice may manage any repository without being an administrator.
    opts_.extra_users = authit::userYaml("alice");
    opts_.extra_permissions = "    - {name: managers, repositories: [ANY], users: {alice: [read, manage]}}\n";
  }
  Response create(const std::string& who, const std::string& key, const json& body) {
    return as(who).put("/api/repositories/" + key, body.dump(), {{"Content-Type", "application/json"}});
  }
  Response update(const std::string& who, const std::string& key, const json& body) {
    return as(who).post("/api/repositories/" + key, body.dump(), {{"Content-Type", "application/json"}});
  }
};

TEST_F(RepositoryApiHostileTest, AnUpdateOfTheWrongTypesIsABadRequestNotAServerError) {
  ASSERT_EQ(create("root", "docker-team", {{"rclass", "local"}, {"description", "before"}}).status, 200);
  for (const json& body : {json{{"key", 5}}, json{{"rclass", 5}}, json{{"key", json::array()}},
                           json{{"rclass", true}}, json{{"key", "other"}}, json{{"rclass", "remote"}}}) {
    auto r = update("root", "docker-team", body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.describe();
    EXPECT_EQ(r.errorCode(), "BAD_REQUEST") << body;
  }
  auto got = as("root").get("/api/repositories/docker-team").json();
  EXPECT_EQ(got["rclass"], "local");
  EXPECT_EQ(got["description"], "before");
}

TEST_F(RepositoryApiHostileTest, AStoredPasswordIsNotSentToAnotherUpstreamUnlessGivenAgain) {
  ASSERT_EQ(create("root", "hub",
                   {{"rclass", "remote"}, {"url", "http://127.0.0.1:9/"}, {"username", "svc"}, {"password", "s3cret"}})
                .status,
            200);
  // alice manages it but was never told the password: pointing the
  // repository at a server of hers would hand it over.
  auto moved = update("alice", "hub", {{"url", "http://127.0.0.1:10/"}});
  EXPECT_EQ(moved.status, 400) << moved.describe();
  EXPECT_NE(moved.body.find("password must be given again"), std::string::npos) << moved.body;
  EXPECT_EQ(as("root").get("/api/repositories/hub").json()["url"], "http://127.0.0.1:9");
  // The same url, other fields: the password stays.
  EXPECT_EQ(update("alice", "hub", {{"url", "http://127.0.0.1:9/"}, {"offline", true}}).status, 200);
  // With the password, or without one, the url may change.
  EXPECT_EQ(update("alice", "hub", {{"url", "http://127.0.0.1:10/"}, {"password", "other"}}).status, 200);
  EXPECT_EQ(update("alice", "hub", {{"url", "http://127.0.0.1:11/"}, {"username", nullptr}, {"password", nullptr}}).status, 200);
  EXPECT_EQ(update("alice", "hub", {{"url", "http://127.0.0.1:12/"}}).status, 200) << "no password left to leak";
  EXPECT_EQ(as("root").get("/api/repositories/hub").json()["url"], "http://127.0.0.1:12");
}

}  // namespace
}  // namespace berth::it
