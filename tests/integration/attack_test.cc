// Breaks found by poking the daemon as an outsider would: each test is the
// smallest request that once got a 500, an internal path or a silently
// truncated secret, and checks the daemon answers with the spec's error.
#include <filesystem>

#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;
using J = nlohmann::json;

const Headers kJson{{"Content-Type", "application/json"}};
const Headers kForm{{"Content-Type", "application/x-www-form-urlencoded"}};

class AttackTest : public RegistryTest {};

// A full disk once answered
//   {"code":"UNAVAILABLE","message":"write upload /srv/data/uploads/<uuid>: No space left on device"}
// and SQLite's "sqlite step: database or disk is full". A `tmp` that is not a
// directory fails the same code path (errnoError) without needing a small
// filesystem: the client must see neither the storage root nor errno text.
TEST_F(AttackTest, AStorageFailureDoesNotShowServerPathsToTheClient) {
  Image img = makeImage();
  for (const Blob* b : {&img.config, &img.layers[0], &img.layers[1]}) ASSERT_EQ(local_.pushBlob(b->bytes).status, 201);
  const std::string tmp = daemon_.storageRoot() + "/tmp";
  std::filesystem::remove_all(tmp);
  writeFile(tmp, "not a directory");

  auto r = local_.putManifest("1", img.manifest);
  EXPECT_GE(r.status, 500) << r.describe();
  EXPECT_FALSE(r.errorCode().empty()) << r.describe();
  EXPECT_EQ(r.body.find(daemon_.storageRoot()), std::string::npos) << r.describe();
  EXPECT_EQ(r.body.find("/tmp"), std::string::npos) << r.describe();
  EXPECT_EQ(r.body.find("Not a directory"), std::string::npos) << r.describe();

  std::filesystem::remove(tmp);
  std::filesystem::create_directory(tmp);
  EXPECT_EQ(local_.putManifest("1", img.manifest).status, 201);
}

// A chunk size that is not hex was a 500 "connection error while reading a
// chunked request body": the client's malformed body is a 400.
TEST_F(AttackTest, AMalformedChunkedBodyIsA400) {
  for (const std::string& chunks : {std::string("ZZZ\r\nabc\r\n0\r\n\r\n"),
                                    std::string("ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
                                    std::string("3\r\nabcXX0\r\n\r\n")}) {
    SCOPED_TRACE(chunks);
    // A session to PATCH into, then the broken body.
    auto post = local_.startUpload();
    ASSERT_EQ(post.status, 202) << post.describe();
    Socket p(daemon_.host(), daemon_.port(), 10);
    ASSERT_TRUE(p.writeAll("PATCH " + post.header("Location") +
                           " HTTP/1.1\r\nHost: it\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks));
    std::string answer = readUntil(p, "\x01never");  // the server closes after the error
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
    EXPECT_NE(answer.find("BAD_REQUEST"), std::string::npos) << answer;
  }
  EXPECT_EQ(http_.get("/v2/").status, 200);
}

class AttackSecureTest : public SecureTest {};

// Bytes that are not UTF-8 in a form field or a query parameter went into the
// token's JSON claims and made nlohmann's dump() throw: a 500 that anyone,
// even anonymous, could cause.
TEST_F(AttackSecureTest, NonUtf8ServiceOrScopeIsA400NotA500) {
  for (const char* query : {"?service=%ff", "?scope=repository:docker-local/public/a%ff:pull",
                            "?service=%c0%af", "?scope=repository:docker-dev/app%ed%a0%80:pull"}) {
    SCOPED_TRACE(query);
    EXPECT_API_ERROR(anon().get(std::string("/v2/token") + query), 400, "BAD_REQUEST");
    EXPECT_API_ERROR(as("reader").get(std::string("/v2/token") + query), 400, "BAD_REQUEST");
  }
  EXPECT_API_ERROR(anon().post("/v2/token", "grant_type=password&username=reader&password=reader-pw&service=%ff", kForm),
                   400, "BAD_REQUEST");
  // UTF-8 that is well-formed still works.
  auto ok = anon().get("/v2/token?service=caf%c3%a9&scope=repository:docker-local/public/a:pull");
  EXPECT_EQ(ok.status, 200) << ok.describe();
}

TEST_F(AttackSecureTest, NonUtf8AccessTokenFormIsA400NotA500) {
  EXPECT_API_ERROR(as("root").post("/api/security/token", "description=%00%ff", kForm), 400, "BAD_REQUEST");
  EXPECT_API_ERROR(as("root").post("/api/security/token", "%fe=1", kForm), 400, "BAD_REQUEST");
  auto ok = as("root").post("/api/security/token", "description=caf%c3%a9", kForm);
  EXPECT_EQ(ok.status, 200) << ok.describe();
}

// bcrypt reads 72 bytes and stops at a NUL: a longer password was a 500
// ("bcrypt hashing failed"), one with a NUL was silently cut short (its
// prefix logged in). A password_hash of cost 31 would make every login with
// it spin a core for days; a truncated one locks the user out for good.
TEST_F(AttackSecureTest, PasswordsAndHashesBcryptCannotHonourAreRefused) {
  auto put = [&](const std::string& body) { return as("root").put("/api/security/users/dan", body, kJson); };
  EXPECT_API_ERROR(put(J{{"password", std::string(73, 'p')}}.dump()), 400, "BAD_REQUEST");
  EXPECT_API_ERROR(put(R"({"password":"abc\u0000defgh"})"), 400, "BAD_REQUEST");
  for (const std::string& hash : {std::string("$2y$31$") + std::string(53, 'a'), std::string("$2y$99$") + std::string(53, 'a'),
                                  std::string("$2y$04$abc"), std::string("$2x$05$") + std::string(53, 'a'),
                                  std::string("$2y$05$") + std::string(52, 'a') + "!"}) {
    SCOPED_TRACE(hash);
    EXPECT_API_ERROR(put(J{{"password_hash", hash}}.dump()), 400, "BAD_REQUEST");
  }
  EXPECT_EQ(as("root").get("/api/security/users/dan").status, 404);
  EXPECT_EQ(put(J{{"password", std::string(72, 'p')}}.dump()).status, 201);
  EXPECT_EQ(http_.get("/v2/", {{"Authorization", basic("dan", std::string(72, 'p'))}}).status, 200);
  EXPECT_EQ(put(J{{"password_hash", userHashes().at("alice")}}.dump()).status, 200);
  EXPECT_EQ(http_.get("/v2/", {{"Authorization", basic("dan", "alice-pw")}}).status, 200);
}

}  // namespace
}  // namespace berth::it
