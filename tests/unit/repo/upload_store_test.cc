#include "repo/upload_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "storage/fs_blob_store.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::repo {
namespace {

using berth::testing::TempDir;

constexpr int64_t kDay = 24 * 3600;

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

std::size_t openDescriptors() {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

// Sets the data file's last activity (its mtime) to `when`.
void setLastActivity(const std::string& path, int64_t when) {
  struct timespec times[2] = {{when, 0}, {when, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

class UploadStoreTest : public ::testing::Test {
 protected:
  UploadStore& store(UploadLimits limits = {}) {
    if (!store_) store_ = std::make_unique<UploadStore>(paths_, meta_, blobs_, limits);
    return *store_;
  }
  UploadSessionPtr start(const std::string& repo = "local", const std::string& user = "alice") {
    auto s = store().start(repo, "app", user);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? *s : nullptr;
  }
  static void append(UploadSession& s, const std::string& data) {
    auto lease = s.acquire();
    ASSERT_TRUE(lease);
    ASSERT_TRUE(s.append(data.data(), data.size()));
  }

  TempDir dir_;
  storage::Paths paths_{dir_.path()};
  std::shared_ptr<storage::SqliteMetadataStore> meta_ = std::make_shared<storage::SqliteMetadataStore>(dir_ / "m.db");
  std::shared_ptr<storage::FsBlobStore> blobs_ = std::make_shared<storage::FsBlobStore>(paths_);
  std::unique_ptr<UploadStore> store_;
};

TEST_F(UploadStoreTest, SessionsHoldNoDescriptorBetweenRequests) {
  std::size_t before = openDescriptors();
  std::vector<UploadSessionPtr> sessions;
  for (int i = 0; i < 50; ++i) {
    sessions.push_back(start());
    append(*sessions.back(), "chunk " + std::to_string(i));
  }
  EXPECT_EQ(openDescriptors(), before) << "50 idle sessions";
  {
    auto lease = sessions[0]->acquire();
    ASSERT_TRUE(lease);
    ASSERT_TRUE(sessions[0]->append("more", 4));
    EXPECT_EQ(openDescriptors(), before + 1) << "open while a request writes";
  }
  EXPECT_EQ(openDescriptors(), before);
  auto lease = sessions[0]->acquire();
  ASSERT_TRUE(lease);
  EXPECT_EQ(store().commit(sessions[0], Sha256::of(std::string("chunk 0more"))).value_or(0), 11u);
}

TEST_F(UploadStoreTest, SessionRevivedAfterARestartHoldsNoDescriptor) {
  auto s = start();
  append(*s, "before restart");
  std::string uuid = s->uuid();
  s.reset();
  store_.reset();  // a new process: nothing live
  std::size_t before = openDescriptors();
  auto revived = store().find("local", "app", uuid);
  ASSERT_TRUE(revived);
  EXPECT_EQ((*revived)->offset(), 14u);
  EXPECT_EQ(openDescriptors(), before);
  auto lease = (*revived)->acquire();
  ASSERT_TRUE(lease);
  EXPECT_TRUE(store().commit(*revived, Sha256::of(std::string("before restart"))));
}

// A remote repository's fetch lets its readers finish as soon as the content
// is verified: the hook runs after the digest matched, before the blob is
// installed, and never for a mismatch.
TEST_F(UploadStoreTest, CommitTellsWhenVerifiedBeforeInstalling) {
  auto bad = start();
  append(*bad, "abc");
  bool called = false;
  {
    auto lease = bad->acquire();
    ASSERT_TRUE(lease);
    EXPECT_FALSE(store().commit(bad, Sha256::of(std::string("abd")), [&] { called = true; }));
  }
  EXPECT_FALSE(called) << "a mismatch is never verified";

  auto good = start();
  append(*good, "abc");
  Digest d = Sha256::of(std::string("abc"));
  bool installed_then = true;
  int calls = 0;
  auto lease = good->acquire();
  ASSERT_TRUE(lease);
  EXPECT_EQ(store().commit(good, d, [&] {
    ++calls;
    installed_then = blobs_->stat(d).has_value();
  }).value_or(0), 3u);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(installed_then);
  EXPECT_TRUE(blobs_->stat(d));
}

// A remote repository's fetch hashes on another thread: what it appends
// unhashed is committed against the digest it gives, and re-hashed from the
// file when it gives none.
TEST_F(UploadStoreTest, AppendUnhashedCommitsAgainstTheGivenDigestOrTheFile) {
  Digest abc = Sha256::of(std::string("abc"));
  auto commitOf = [&](const std::optional<Digest>& given) {
    auto s = start();
    auto lease = s->acquire();
    EXPECT_TRUE(lease);
    EXPECT_TRUE(s->appendUnhashed("ab", 2));
    EXPECT_TRUE(s->appendUnhashed("c", 1));
    if (given) s->setDigest(*given);
    return store().commit(s, abc);
  };
  EXPECT_EQ(commitOf(abc).value_or(0), 3u);
  EXPECT_EQ(commitOf(std::nullopt).value_or(0), 3u) << "no digest given: the file is hashed";
  auto lied = commitOf(Sha256::of(std::string("abd")));
  ASSERT_FALSE(lied);
  EXPECT_EQ(lied.error().code, ErrorCode::DigestInvalid) << "the given digest is what is checked";
  // A digest given and then appended to is stale: the file decides.
  auto s = start();
  auto lease = s->acquire();
  ASSERT_TRUE(lease);
  ASSERT_TRUE(s->appendUnhashed("ab", 2));
  s->setDigest(Sha256::of(std::string("ab")));
  ASSERT_TRUE(s->append("c", 1));
  EXPECT_EQ(store().commit(s, abc).value_or(0), 3u);
}

TEST_F(UploadStoreTest, EndedSessionIsUnknownToRequestsThatWaitedForIt) {
  auto s = start();
  append(*s, "abc");
  {
    auto lease = s->acquire();
    ASSERT_TRUE(lease);
    ASSERT_TRUE(store().commit(s, Sha256::of(std::string("abc"))));
  }
  // A second PUT (or a PATCH) that found the session before the commit ended it:
  auto again = s->acquire();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::BlobUploadUnknown);
  EXPECT_EQ(s->append("x", 1).error().code, ErrorCode::BlobUploadUnknown);
  EXPECT_EQ(s->digest().error().code, ErrorCode::BlobUploadUnknown);
  EXPECT_EQ(store().cancel(s).error().code, ErrorCode::BlobUploadUnknown);
  EXPECT_EQ(store().find("local", "app", s->uuid()).error().code, ErrorCode::BlobUploadUnknown);

  auto c = start();
  {
    auto lease = c->acquire();
    ASSERT_TRUE(lease);
    ASSERT_TRUE(store().cancel(c));
  }
  EXPECT_EQ(c->acquire().error().code, ErrorCode::BlobUploadUnknown);
  EXPECT_EQ(store().find("local", "app", c->uuid()).error().code, ErrorCode::BlobUploadUnknown);
}

TEST_F(UploadStoreTest, PurgeGoesByLastActivityNotCreation) {
  auto idle = start();
  append(*idle, "abandoned");
  auto active = start();
  append(*active, "busy");
  // Both created long ago (a restart revives them from their rows); only one idle since.
  store_.reset();
  for (const auto& s : {idle, active}) {
    ASSERT_TRUE(meta_->deleteUpload(s->uuid()));
    ASSERT_TRUE(meta_->createUpload({s->uuid(), "local", "app", now() - 30 * kDay, "alice"}));
  }
  setLastActivity(idle->path(), now() - 8 * kDay);
  setLastActivity(active->path(), now() - 3600);
  EXPECT_EQ(store().purgeIdleSince(now() - 7 * kDay), 1u);
  EXPECT_EQ(store().find("local", "app", idle->uuid()).error().code, ErrorCode::BlobUploadUnknown);
  EXPECT_FALSE(std::filesystem::exists(idle->path()));
  auto kept = store().find("local", "app", active->uuid());
  ASSERT_TRUE(kept);
  EXPECT_EQ((*kept)->offset(), 4u);
}

TEST_F(UploadStoreTest, EveryRequestCountsAsActivity) {
  auto s = start();
  setLastActivity(s->path(), now() - 8 * kDay);
  { auto status_query = s->acquire(); }  // a GET of the upload's status, no data
  EXPECT_EQ(store().purgeIdleSince(now() - 7 * kDay), 0u);
  EXPECT_TRUE(store().find("local", "app", s->uuid()));
}

TEST_F(UploadStoreTest, PurgeNeverEndsASessionInUse) {
  auto s = start();
  append(*s, "first chunk");
  auto lease = s->acquire();  // a PATCH in progress...
  ASSERT_TRUE(lease);
  setLastActivity(s->path(), now() - 8 * kDay);  // ...after a long pause
  EXPECT_EQ(store().purgeIdleSince(now() - 7 * kDay), 0u);
  ASSERT_TRUE(s->append(" second", 7));
  lease->unlock();
  setLastActivity(s->path(), now() - 8 * kDay);
  EXPECT_EQ(store().purgeIdleSince(now() - 7 * kDay), 1u) << "idle once the request let go";
  EXPECT_EQ(s->acquire().error().code, ErrorCode::BlobUploadUnknown);
  EXPECT_TRUE(meta_->uploads()->empty());
}

TEST_F(UploadStoreTest, RowWithoutDataFileIsPurged) {
  auto s = start();
  std::string uuid = s->uuid();
  s.reset();
  store_.reset();
  ASSERT_EQ(::unlink(paths_.upload(uuid).c_str()), 0);
  EXPECT_EQ(store().purgeIdleSince(now() - 7 * kDay), 1u);
  EXPECT_TRUE(meta_->uploads()->empty());
}

TEST_F(UploadStoreTest, CapsPerRepositoryAndPerUser) {
  store({/*per_repository=*/3, /*per_user=*/2});
  ASSERT_TRUE(start("local", "alice"));
  auto second = start("local", "alice");
  auto refused = store().start("local", "app", "alice");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::TooManyRequests);
  EXPECT_NE(refused.error().message.find("user alice"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().detail, "60") << "seconds for Retry-After";
  EXPECT_FALSE(store().start("dev", "app", "alice")) << "the user cap spans repositories";
  EXPECT_TRUE(store().start("local", "app", "alice", /*resumable=*/false)) << "monolithic uploads are not sessions";
  ASSERT_TRUE(start("local", "bob"));
  refused = store().start("local", "app", "carol");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("repository local"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(start("dev", "carol"));
  {
    auto lease = second->acquire();
    ASSERT_TRUE(store().cancel(second));
  }
  EXPECT_TRUE(start("local", "carol")) << "a cancelled session frees its place";
}

}  // namespace
}  // namespace berth::repo
