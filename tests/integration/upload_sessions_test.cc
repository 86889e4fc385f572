// Upload sessions as a resource: no descriptor held by an abandoned session,
// caps per repository and per user, the end of a session racing with other
// requests for it, and expiry by last activity.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <future>
#include <thread>

#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

DaemonOptions withStorage(const std::string& storage, unsigned max_open_files = 0) {
  DaemonOptions o;
  o.storage = storage;
  o.max_open_files = max_open_files;
  return o;
}

bool waitUntil(const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Reads a response head from s and returns its status code.
int readStatus(Socket& s) {
  std::string head;
  char c;
  while (!head.ends_with("\r\n\r\n") && s.readSome(&c, 1) == 1) head += c;
  return head.size() > 12 ? std::stoi(head.substr(9, 3)) : 0;
}

void expectTooManyRequests(const Response& r, const std::string& what) {
  EXPECT_API_ERROR(r, 429, "TOOMANYREQUESTS");
  EXPECT_EQ(r.header("Retry-After"), "60") << r.describe();
  std::string message = r.json()["errors"][0].value("message", "");
  EXPECT_NE(message.find(what), std::string::npos) << message;
}

// ---- descriptors ----

// The daemon may open 64 files; 150 sessions are abandoned, each after a
// chunk. Before the fix, each kept its data file open and the next upload
// failed with 500 (EMFILE) around the 55th.
class LowDescriptorLimitTest : public RegistryTest {
 protected:
  LowDescriptorLimitTest() : RegistryTest(withStorage("max_uploads_per_user: 1000", 64)) {}
};

TEST_F(LowDescriptorLimitTest, AbandonedSessionsDoNotStopTheNextPush) {
  std::vector<std::string> abandoned;
  for (int i = 0; i < 150; ++i) {
    ImageClient img = image("/v2/docker-local/abandoned" + std::to_string(i % 7));
    auto r = img.startUpload();
    ASSERT_EQ(r.status, 202) << "session " << i << ": " << r.describe();
    r = img.patchChunk(r.header("Location"), randomBytes(1000 + i));
    ASSERT_EQ(r.status, 202) << "session " << i << ": " << r.describe();
    abandoned.push_back(pathOf(r.header("Location")));
  }
  local_.pushImage(makeImage(mt::kDockerManifest, 3), "v1");
  std::string data = randomBytes(300000);
  EXPECT_EQ(local_.pushBlobInChunks(data, 100000).status, 201);
  EXPECT_EQ(local_.getBlob(sha256Of(data)).body, data);

  // After a restart every session is revived on demand, still without holding its file.
  restartDaemon();
  for (const auto& loc : abandoned) ASSERT_EQ(http_.get(loc).status, 204) << loc;
  local_.pushImage(makeImage(mt::kOciManifest, 3), "v2");
  EXPECT_EQ(local_.pushBlobInChunks(randomBytes(200000), 50000, true).status, 201);
}

// ---- caps ----

class PerUserCapTest : public RegistryTest {
 protected:
  PerUserCapTest() : RegistryTest(withStorage("max_uploads_per_user: 3")) {}
};

TEST_F(PerUserCapTest, OverTheCapAStartIs429UntilASessionEnds) {
  std::vector<std::string> open;
  for (int i = 0; i < 3; ++i) {
    auto r = local_.startUpload();
    ASSERT_EQ(r.status, 202) << r.describe();
    open.push_back(pathOf(r.header("Location")));
  }
  // An open registry: every caller is anonymous, one user for the cap.
  expectTooManyRequests(local_.startUpload(), "user anonymous (limit 3)");
  expectTooManyRequests(dev_.startUpload(), "user anonymous (limit 3)");
  EXPECT_EQ(local_.pushBlob("monolithic pushes are no session").status, 201);

  ASSERT_EQ(http_.del(open[0]).status, 204);
  auto r = local_.startUpload();
  ASSERT_EQ(r.status, 202) << "a cancelled session frees its place: " << r.describe();
  expectTooManyRequests(local_.startUpload(), "limit 3");
  ASSERT_EQ(local_.finishUpload(open[1], sha256Of("done"), "done").status, 201);
  EXPECT_EQ(dev_.startUpload().status, 202) << "a committed session frees its place";
  restartDaemon();
  expectTooManyRequests(local_.startUpload(), "limit 3");  // sessions from before a restart count
}

class PerRepositoryCapTest : public RegistryTest {
 protected:
  PerRepositoryCapTest() : RegistryTest(withStorage("max_uploads_per_repository: 2")) {}
};

TEST_F(PerRepositoryCapTest, EachRepositoryHasItsOwnCap) {
  ASSERT_EQ(local_.startUpload().status, 202);
  ASSERT_EQ(image("/v2/docker-local/other").startUpload().status, 202);
  expectTooManyRequests(local_.startUpload(), "repository docker-local (limit 2)");
  EXPECT_EQ(dev_.startUpload().status, 202);
}

class PerUserCapWithUsersTest : public authit::SecureTest {
 protected:
  void SetUp() override {
    std::string yaml = authit::configYaml(opts_, daemon_.storageRoot());
    const std::string storage = "storage: {root: \"" + daemon_.storageRoot() + "\"";
    yaml.replace(yaml.find(storage), storage.size(), storage + ", max_uploads_per_user: 2");
    writeFile(daemon_.configPath(), yaml);
    daemon_.start();
    http_.retarget(daemon_.host(), daemon_.port());
  }
};

TEST_F(PerUserCapWithUsersTest, EachUserHasTheirOwnCap) {
  auto deployer = as("deployer"), grouped = as("grouped");
  const std::string start = "/v2/docker-dev/app/blobs/uploads/";
  ASSERT_EQ(deployer.send("POST", start).status, 202);
  ASSERT_EQ(deployer.send("POST", start).status, 202);
  expectTooManyRequests(deployer.send("POST", start), "user deployer (limit 2)");
  EXPECT_EQ(grouped.send("POST", start).status, 202);
}

// ---- the end of a session racing with requests for it ----

class SessionEndTest : public RegistryTest {
 protected:
  // Starts a session holding `first`, then sends a PUT ?digest=put_digest with
  // `last` as its body on a raw socket, half of it at first, so that the PUT
  // holds the session. Meanwhile `second` (a request for the same session,
  // which must wait for it) runs on another connection; then the PUT is
  // completed. Returns the PUT's status and the second request's response.
  std::pair<int, Response> raceWithPut(const std::string& first, const std::string& last,
                                       const std::string& put_digest,
                                       const std::function<Response(ImageClient&, const std::string&)>& second) {
    auto r = local_.startUpload();
    EXPECT_EQ(r.status, 202);
    r = local_.patchChunk(r.header("Location"), first);
    EXPECT_EQ(r.status, 202);
    const std::string loc = pathOf(r.header("Location"));
    const std::string file = daemon_.storageRoot() + "/uploads/" + r.header("Docker-Upload-UUID");

    Socket put(daemon_.host(), daemon_.port());
    EXPECT_TRUE(put.writeAll("PUT " + loc + "?digest=" + put_digest + " HTTP/1.1\r\nHost: it\r\nContent-Length: " +
                             std::to_string(last.size()) + "\r\n\r\n" + last.substr(0, last.size() / 2)));
    EXPECT_TRUE(waitUntil([&] { return std::filesystem::file_size(file) > first.size(); }))
        << "the PUT did not start writing";
    auto other = std::async(std::launch::async, [&] {
      HttpClient http = newClient();
      ImageClient img(http, local_.url());
      return second(img, loc);
    });
    // Give the second request time to find the session and wait for it; if
    // it comes later, it must get the same answer anyway.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(put.writeAll(last.substr(last.size() / 2)));
    int status = readStatus(put);
    return {status, other.get()};
  }
};

TEST_F(SessionEndTest, CommittedSessionIsUnknownToASecondPut) {
  std::string first = randomBytes(5000), last = randomBytes(4 << 20);
  std::string digest = sha256Of(first + last);
  auto [put, second] = raceWithPut(first, last, digest, [&](ImageClient& img, const std::string& loc) {
    return img.finishUpload(loc, digest);
  });
  EXPECT_EQ(put, 201);
  EXPECT_API_ERROR(second, 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(sha256Of(local_.getBlob(digest).body), digest);
}

TEST_F(SessionEndTest, CommittedSessionIsUnknownToAPatch) {
  std::string first = randomBytes(5000), last = randomBytes(4 << 20);
  std::string digest = sha256Of(first + last);
  auto [put, second] = raceWithPut(first, last, digest, [&](ImageClient& img, const std::string& loc) {
    return img.patchChunk(loc, "late chunk");
  });
  EXPECT_EQ(put, 201);
  EXPECT_API_ERROR(second, 404, "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(SessionEndTest, SessionCancelledByAWrongDigestIsUnknownToTheRightOne) {
  std::string first = randomBytes(5000), last = randomBytes(4 << 20);
  std::string digest = sha256Of(first + last);
  auto [put, second] = raceWithPut(first, last, sha256Of("not it"), [&](ImageClient& img, const std::string& loc) {
    return img.finishUpload(loc, digest);
  });
  EXPECT_EQ(put, 400);
  EXPECT_API_ERROR(second, 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(local_.headBlob(digest).status, 404);
  EXPECT_TRUE(uploadFiles().empty());
}

TEST_F(SessionEndTest, CommitOrCancelAfterTheEndIs404) {
  auto r = local_.startUpload();
  std::string loc = pathOf(r.header("Location"));
  ASSERT_EQ(local_.finishUpload(loc, sha256Of("abc"), "abc").status, 201);
  EXPECT_API_ERROR(local_.finishUpload(loc, sha256Of("abc")), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_API_ERROR(local_.finishUpload(loc, sha256Of("abc"), "abc"), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_API_ERROR(http_.del(loc), 404, "BLOB_UPLOAD_UNKNOWN");
  r = local_.startUpload();
  loc = pathOf(r.header("Location"));
  ASSERT_EQ(http_.del(loc).status, 204);
  EXPECT_API_ERROR(local_.finishUpload(loc, sha256Of("")), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_API_ERROR(local_.patchChunk(loc, "x"), 404, "BLOB_UPLOAD_UNKNOWN");
}

// ---- expiry by last activity ----

using UploadExpiryTest = RegistryTest;

// Moves a session's last activity (its data file's mtime) back by `seconds`,
// as if no request had come for that long.
void ageSession(const std::string& storage_root, const Response& progress, int64_t seconds) {
  std::string file = storage_root + "/uploads/" + progress.header("Docker-Upload-UUID");
  int64_t when = static_cast<int64_t>(std::time(nullptr)) - seconds;
  struct timespec times[2] = {{when, 0}, {when, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0) << file;
}

TEST_F(UploadExpiryTest, IdleSessionsArePurgedActiveOnesKept) {
  constexpr int64_t kEightDays = 8 * 24 * 3600;  // upload_expiry_hours is 168
  auto idle = local_.patchChunk(local_.startUpload().header("Location"), "abandoned");
  auto active = local_.patchChunk(local_.startUpload().header("Location"), "first");
  ASSERT_EQ(idle.status, 202);
  ASSERT_EQ(active.status, 202);
  ageSession(daemon_.storageRoot(), idle, kEightDays);
  ageSession(daemon_.storageRoot(), active, kEightDays);
  active = local_.patchChunk(active.header("Location"), " second");  // activity, not creation, counts
  ASSERT_EQ(active.status, 202);
  restartDaemon();  // the purge runs at start (and hourly)

  EXPECT_API_ERROR(http_.get(pathOf(idle.header("Location"))), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_FALSE(std::filesystem::exists(daemon_.storageRoot() + "/uploads/" + idle.header("Docker-Upload-UUID")));
  auto status = http_.get(pathOf(active.header("Location")));
  EXPECT_EQ(status.status, 204) << status.describe();
  EXPECT_EQ(status.header("Range"), "0-11");
  EXPECT_EQ(local_.finishUpload(active.header("Location"), sha256Of("first second")).status, 201);
}

}  // namespace
}  // namespace berth::it
