// Hostile request bodies and references (issue 6): bodies nested a million
// levels deep, wrong JSON types, references that cannot name anything, and
// more bodies in memory at once than the budget allows. The daemon must
// answer each with the spec's error and stay alive.
#include <signal.h>

#include <chrono>
#include <thread>

#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;
using J = nlohmann::json;

const Headers kJson{{"Content-Type", "application/json"}};

std::string nestedArray(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A 2 MB manifest whose annotations hold an array nested a million deep.
std::string deepManifest() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,)"
         R"("digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},)"
         R"("layers":[],"annotations":{"a":)" +
         nestedArray(1000000) + "}}";
}

class HostileInputTest : public RegistryTest {
 protected:
  using RegistryTest::RegistryTest;
  void expectAlive() {
    auto r = http_.get("/v2/");
    EXPECT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(::kill(daemon_.pid(), 0), 0) << "the daemon died";
  }
};

TEST_F(HostileInputTest, AManifestNestedAMillionDeepIsRefusedAndTheDaemonLives) {
  auto r = local_.putManifest("deep", deepManifest(), mt::kOciManifest);
  EXPECT_API_ERROR(r, 400, "MANIFEST_INVALID");
  EXPECT_NE(r.body.find("nested too deeply"), std::string::npos) << r.describe();
  expectAlive();
}

TEST_F(HostileInputTest, AnnotationsThatAreNotStringsAreRefused) {
  Image img = makeImage(mt::kOciManifest, 1, {{"annotations", {{"a", {{"b", "c"}}}}}});
  for (const Blob* b : {&img.config, &img.layers[0]}) ASSERT_EQ(local_.pushBlob(b->bytes).status, 201);
  EXPECT_API_ERROR(local_.putManifest("x", img.manifest), 400, "MANIFEST_INVALID");
  expectAlive();
}

TEST_F(HostileInputTest, AReferenceThatIsNeitherTagNorDigestIsUnknownOnRead) {
  for (const std::string& ref : std::vector<std::string>{".INVALID_MANIFEST_NAME", "-dash", "sha256:xyz",
                                                         "md5:0123456789abcdef", std::string(200, 'a')}) {
    SCOPED_TRACE(ref);
    EXPECT_API_ERROR(local_.getManifest(ref), 404, "MANIFEST_UNKNOWN");
    EXPECT_EQ(local_.headManifest(ref).status, 404);
    EXPECT_API_ERROR(local_.deleteManifest(ref), 404, "MANIFEST_UNKNOWN");
  }
  // A PUT is told what is wrong with its reference.
  Image img = makeImage();
  auto put = local_.putManifest(".INVALID_MANIFEST_NAME", img.manifest);
  EXPECT_EQ(put.status, 400) << put.describe();
  EXPECT_EQ(put.errorCode(), "TAG_INVALID");
}

// Bodies held in memory share one budget: over it a request is refused with
// TOOMANYREQUESTS instead of growing, and the budget comes back when the
// request that held it ends.
class BodyBudgetTest : public HostileInputTest {
 protected:
  BodyBudgetTest() : HostileInputTest(DaemonOptions{{"docker-local"}, "warn", "max_buffered_body_bytes: 4194304"}) {}
};

TEST_F(BodyBudgetTest, OverTheBudgetARequestGets429AndTheBudgetReturns) {
  auto small = [&] { return local_.putManifest("small", "{}", mt::kOciManifest); };
  // A holder takes the whole budget: a 4 MiB manifest whose body trickles in.
  // The holder is itself refused if a small request holds its 2 bytes at the
  // moment it reserves, so it starts alone, and is made again if a loaded
  // machine still let that race happen.
  std::unique_ptr<Socket> holder;
  Response r;
  for (int attempt = 0; attempt < 20 && r.status != 429; ++attempt) {
    holder = std::make_unique<Socket>(daemon_.host(), daemon_.port(), 10);
    ASSERT_TRUE(holder->writeAll("PUT /v2/docker-local/app/manifests/big HTTP/1.1\r\nHost: x\r\n"
                                 "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
                                 "Content-Length: 4194304\r\n\r\n{\"schemaVersion\":"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 200 * attempt));
    r = small();
  }
  EXPECT_API_ERROR(r, 429, "TOOMANYREQUESTS");
  EXPECT_EQ(r.header("Retry-After"), "1");
  holder.reset();  // the holder gives up: its request ends and its share returns
  for (int i = 0; i < 200; ++i) {
    r = small();
    if (r.status != 429) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_API_ERROR(r, 400, "MANIFEST_INVALID");
  expectAlive();
}

TEST_F(BodyBudgetTest, ABodyLargerThanTheBudgetIsStillBoundedByItsOwnLimit) {
  auto r = local_.putManifest("huge", std::string(5 * 1024 * 1024, ' '), mt::kOciManifest);
  EXPECT_API_ERROR(r, 400, "MANIFEST_INVALID");
  expectAlive();
}

// The security API and the token endpoints take JSON from any logged-in user.
class HostileAuthInputTest : public SecureTest {};

TEST_F(HostileAuthInputTest, DeeplyNestedTokenRequestIsRefusedAndTheDaemonLives) {
  auto r = as("reader").post("/api/security/token", R"({"actions":)" + nestedArray(1000000) + "}", kJson);
  EXPECT_API_ERROR(r, 400, "BAD_REQUEST");
  EXPECT_EQ(anon().get("/v2/").status / 100, 4);  // still answering (a challenge)
  EXPECT_EQ(::kill(daemon_.pid(), 0), 0);
}

TEST_F(HostileAuthInputTest, WrongTypesInTheTokenRequestNameTheField) {
  struct Case {
    J body;
    std::string field;
  };
  for (const auto& c : std::vector<Case>{{{{"actions", 5}}, "actions"},
                                         {{{"actions", {5}}}, "actions"},
                                         {{{"actions", {"read", {"x"}}}}, "actions"},
                                         {{{"username", 7}}, "username"},
                                         {{{"repositories", "docker-dev"}}, "repositories"},
                                         {{{"repositories", {1}}}, "repositories"},
                                         {{{"expires_in", "soon"}}, "expires_in"},
                                         {{{"expires_in", 1.5}}, "expires_in"},
                                         {{{"expires_in", J::array()}}, "expires_in"},
                                         {{{"expires_in", 9223372036854775807LL}}, "expires_in"},
                                         {{{"description", false}}, "description"}}) {
    SCOPED_TRACE(c.body.dump());
    auto r = as("reader").post("/api/security/token", c.body.dump(), kJson);
    EXPECT_API_ERROR(r, 400, "BAD_REQUEST");
    EXPECT_NE(r.body.find("'" + c.field + "'"), std::string::npos) << r.describe();
  }
  // Nothing was created by any of them.
  auto list = as("reader").get("/api/security/token");
  ASSERT_EQ(list.status, 200) << list.describe();
  EXPECT_TRUE(list.json()["tokens"].empty()) << list.body;
}

TEST_F(HostileAuthInputTest, WrongTypesInTheAdminApiAreBadRequests) {
  for (const auto& [target, body] : std::vector<std::pair<std::string, J>>{
           {"/api/security/users/u1", {{"password", 5}}},
           {"/api/security/users/u1", {{"admin", "yes"}}},
           {"/api/security/users/u1", {{"groups", {1, 2}}}},
           {"/api/security/groups/g1", {{"description", {"x"}}}},
           {"/api/security/permissions/p1", {{"repositories", "ANY"}}},
           {"/api/security/permissions/p1", {{"users", {{"reader", "read"}}}}}}) {
    SCOPED_TRACE(target + " " + body.dump());
    EXPECT_API_ERROR(as("root").put(target, body.dump(), kJson), 400, "BAD_REQUEST");
  }
  auto deep = as("root").put("/api/security/users/u1", R"({"groups":)" + nestedArray(100000) + "}", kJson);
  EXPECT_API_ERROR(deep, 400, "BAD_REQUEST");
  EXPECT_EQ(as("root").get("/api/security/users/u1").status, 404);
}

}  // namespace
}  // namespace berth::it
