// Concurrency, streaming of a 2 GiB blob with flat memory, and crashes
// (kill -9) in the middle of uploads.
#include <chrono>
#include <cstring>
#include <filesystem>
#include <latch>
#include <mutex>
#include <thread>

#include "berth/core/sha256.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

// Polls pred every 5 ms until it holds or the timeout passes.
bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

uint64_t totalSize(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& f : filesUnder(dir)) {
    std::error_code ec;
    auto size = std::filesystem::file_size(dir + "/" + f, ec);
    if (!ec) total += size;
  }
  return total;
}

// Sends a request without body on s and returns the response header block.
std::string exchangeHead(Socket& s, const std::string& request) {
  EXPECT_TRUE(s.writeAll(request));
  std::string got;
  char c;
  while (!got.ends_with("\r\n\r\n") && s.readSome(&c, 1) == 1) got += c;
  return got;
}

class DurabilityTest : public RegistryTest {
 protected:
  // Sends the header and the first half of a request whose body is `data`, waits
  // until the daemon has written a quarter of it under uploads/, then kills it -9.
  // With a session_post, that POST is sent first on the same connection, and
  // "{location}" in head is replaced by its Location.
  void crashMidRequest(std::string head, const std::string& data, const std::string& session_post = {}) {
    Socket s(daemon_.host(), daemon_.port());
    if (!session_post.empty()) {
      std::string answer = exchangeHead(s, session_post);
      auto at = answer.find("Location: ");
      ASSERT_TRUE(answer.starts_with("HTTP/1.1 202") && at != std::string::npos) << answer;
      std::string location = answer.substr(at + 10, answer.find("\r\n", at) - at - 10);
      head.replace(head.find("{location}"), 10, location);
    }
    ASSERT_TRUE(s.writeAll(head + "Content-Length: " + std::to_string(data.size()) + "\r\n\r\n"));
    if (!s.writeAll(std::string_view(data).substr(0, data.size() / 2))) {
      std::string answer(4096, '\0');
      answer.resize(s.readSome(answer.data(), answer.size()));
      FAIL() << "the daemon closed the connection mid-body; it answered:\n" << answer;
    }
    const std::string uploads = daemon_.storageRoot() + "/uploads";
    ASSERT_TRUE(waitUntil([&] { return totalSize(uploads) >= data.size() / 4; }))
        << "the daemon did not write the body to " << uploads;
    crashAndRestart();
  }
  // After a crash: the blob is not visible, not in the store, and tmp/ is empty.
  void expectNothingCommitted(const std::string& digest) {
    EXPECT_EQ(local_.headBlob(digest).status, 404);
    EXPECT_API_ERROR(local_.getBlob(digest), 404, "BLOB_UNKNOWN");
    EXPECT_FALSE(std::filesystem::exists(blobPath(digest)));
    EXPECT_TRUE(blobFiles().empty()) << blobFiles().size() << " files under blobs/";
    EXPECT_TRUE(tmpFiles().empty()) << tmpFiles().size() << " files under tmp/";
  }
  // The blob can be pushed again and reads back with the right digest.
  void expectPushableAgain(const std::string& data) {
    auto r = local_.pushBlob(data);
    EXPECT_EQ(r.status, 201) << r.describe();
    auto got = local_.getBlob(sha256Of(data));
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(sha256Of(got.body), sha256Of(data));
  }
};

TEST_F(DurabilityTest, ConcurrentPushesOfOneBlobAllSucceedAndStoreOneFile) {
  constexpr int kThreads = 8;
  const std::string data = randomBytes(8 * kMiB);
  const std::vector<std::string> targets{"/v2/docker-local/app", "/v2/docker-local/app", "/v2/docker-dev/app",
                                         "/v2/docker-local/other"};
  std::latch go(kThreads);
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      try {
        HttpClient http = newClient();
        ImageClient img(http, targets[i % targets.size()]);
        go.arrive_and_wait();
        auto r = i % 2 ? img.pushBlobInChunks(data, 3 * kMiB) : img.pushBlob(data);
        if (r.status != 201) {
          std::lock_guard lock(mu);
          failures.push_back(img.url() + ": " + r.describe());
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        failures.push_back(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
  EXPECT_EQ(blobFiles().size(), 1u);
  EXPECT_TRUE(uploadFiles().empty()) << uploadFiles().size() << " files under uploads/";
  EXPECT_TRUE(tmpFiles().empty());
  for (const auto& url : targets) {
    auto r = image(url).getBlob(sha256Of(data));
    EXPECT_EQ(r.status, 200) << url;
    EXPECT_EQ(sha256Of(r.body), sha256Of(data)) << url;
  }
}

TEST_F(DurabilityTest, TwoGiBBlobStreamsBothWaysWithFlatMemory) {
  constexpr uint64_t kSize = 2048 * kMiB;
  constexpr uint64_t kMaxRss = 256 * kMiB;
  const std::string block = randomBytes(kMiB);  // the body is this block, repeated
  Sha256 hasher;
  for (uint64_t i = 0; i < kSize / kMiB; ++i) hasher.update(block.data(), block.size());
  const std::string digest = hasher.finish().str();

  uint64_t sent = 0;
  Request push;
  push.method = "POST";
  push.target = local_.url() + "/blobs/uploads/?digest=" + digest;
  push.content_length = kSize;
  push.source = [&](char* buf, std::size_t cap) {
    std::size_t off = sent % kMiB;
    std::size_t n = static_cast<std::size_t>(std::min<uint64_t>({cap, kMiB - off, kSize - sent}));
    std::memcpy(buf, block.data() + off, n);
    sent += n;
    return n;
  };
  auto r = http_.send(push);
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  const uint64_t peak_after_push = daemon_.peakRssBytes();

  uint64_t received = 0;
  Request pull;
  pull.target = local_.url() + "/blobs/" + digest;
  r = http_.send(pull, [&](const char* data, std::size_t n) {
    hasher.update(data, n);
    received += n;
  });
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.header("Content-Length"), std::to_string(kSize));
  EXPECT_EQ(received, kSize);
  EXPECT_EQ(hasher.finish().str(), digest);

  const uint64_t peak = daemon_.peakRssBytes();
  RecordProperty("berth_peak_rss_after_push_kib", std::to_string(peak_after_push / 1024));
  RecordProperty("berth_peak_rss_kib", std::to_string(peak / 1024));
  EXPECT_LT(peak, kMaxRss) << "berth's VmHWM is " << peak / kMiB << " MiB for a 2 GiB blob";
  EXPECT_EQ(std::filesystem::file_size(blobPath(digest)), kSize);
}

TEST_F(DurabilityTest, KillDuringPatchLeavesNoBlobAndThePushCanBeRedone) {
  const std::string data = randomBytes(64 * kMiB);
  const std::string digest = sha256Of(data);
  const std::string post = "POST " + local_.url() + "/blobs/uploads/ HTTP/1.1\r\nHost: it\r\nContent-Length: 0\r\n\r\n";
  crashMidRequest("PATCH {location} HTTP/1.1\r\nHost: it\r\nContent-Type: application/octet-stream\r\n", data, post);
  if (HasFatalFailure()) return;
  expectNothingCommitted(digest);
  const auto uploads = uploadFiles();
  ASSERT_EQ(uploads.size(), 1u);
  const std::string loc = local_.url() + "/blobs/uploads/" + uploads[0];

  // The session survives; wherever it stands, resuming from there yields the right blob.
  auto status = http_.get(loc);
  ASSERT_EQ(status.status, 204) << status.describe();
  std::string range = status.header("Range");
  ASSERT_TRUE(range.starts_with("0-")) << range;
  uint64_t offset = std::stoull(range.substr(2)) + 1;
  ASSERT_LE(offset, data.size() / 2);
  ASSERT_GE(offset, data.size() / 4);
  auto r = local_.patchChunk(loc, data.substr(offset), offset);
  ASSERT_EQ(r.status, 202) << r.describe();
  r = local_.finishUpload(loc, digest);
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(sha256Of(local_.getBlob(digest).body), digest);
  expectPushableAgain(data);
}

TEST_F(DurabilityTest, KillDuringMonolithicPostLeavesNoBlobAndThePushCanBeRedone) {
  const std::string data = randomBytes(64 * kMiB);
  const std::string digest = sha256Of(data);
  crashMidRequest("POST " + local_.url() + "/blobs/uploads/?digest=" + digest +
                      " HTTP/1.1\r\nHost: it\r\nContent-Type: application/octet-stream\r\n",
                  data);
  if (HasFatalFailure()) return;
  expectNothingCommitted(digest);
  expectPushableAgain(data);
}

TEST_F(DurabilityTest, KillDuringCommitIsAllOrNothing) {
  const std::string data = randomBytes(64 * kMiB);
  const std::string digest = sha256Of(data);
  auto start = local_.startUpload();
  ASSERT_EQ(start.status, 202) << start.describe();
  {
    Socket s(daemon_.host(), daemon_.port());
    ASSERT_TRUE(s.writeAll("PUT " + withQuery(pathOf(start.header("Location")), "digest=" + digest) +
                           " HTTP/1.1\r\nHost: it\r\nContent-Length: " + std::to_string(data.size()) + "\r\n\r\n"));
    ASSERT_TRUE(s.writeAll(data));
    // Every byte is on disk: the daemon is verifying, syncing or renaming now.
    const std::string uploads = daemon_.storageRoot() + "/uploads";
    ASSERT_TRUE(waitUntil([&] { return totalSize(uploads) == data.size() || !blobFiles().empty(); }));
    crashAndRestart();
  }
  EXPECT_TRUE(tmpFiles().empty());
  auto head = local_.headBlob(digest);
  if (head.status == 200) {  // committed before the kill: then whole
    EXPECT_EQ(sha256Of(local_.getBlob(digest).body), digest);
  } else {
    EXPECT_EQ(head.status, 404) << head.describe();
  }
  if (std::filesystem::exists(blobPath(digest))) {
    EXPECT_EQ(sha256Of(readFile(blobPath(digest))), digest);
  }
  expectPushableAgain(data);
}

TEST_F(DurabilityTest, KillAfterPushKeepsEverythingCommitted) {
  Image image = makeImage(mt::kOciManifest, 3);
  local_.pushImage(image, "latest");
  dev_.pushImage(image, "v1");
  crashAndRestart();
  for (auto* img : {&local_, &dev_}) {
    auto r = img->getManifest(img == &local_ ? "latest" : "v1");
    EXPECT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.body, image.manifest.bytes);
    for (const auto& layer : image.layers) EXPECT_EQ(img->getBlob(layer.digest).body, layer.bytes);
  }
  EXPECT_EQ(local_.tags().json()["tags"], nlohmann::json({"latest"}));
}

TEST_F(DurabilityTest, LeftoverTempFilesAreRemovedAtStart) {
  ASSERT_EQ(daemon_.stop(), 0);
  writeFile(daemon_.storageRoot() + "/tmp/leftover-from-a-crash", "partial");
  daemon_.start();
  http_.retarget(daemon_.host(), daemon_.port());
  EXPECT_TRUE(tmpFiles().empty());
  EXPECT_EQ(http_.get("/v2/").status, 200);
}

}  // namespace
}  // namespace berth::it
