#include "repo/recent_pages.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdio>
#include <linux/magic.h>
#include <string>
#include <vector>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "repo/upload_store.h"
#include "storage/fs_blob_store.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::repo {
namespace {

using berth::testing::TempDir;

constexpr uint64_t kWin = 1u << 20;

// A file of `windows` MiB, written and on disk (clean pages, still cached).
int writeFile(const std::string& path, int windows) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  EXPECT_GE(fd, 0) << path;
  std::vector<char> buf(kWin, 'x');
  for (int i = 0; i < windows; ++i) EXPECT_EQ(::write(fd, buf.data(), buf.size()), static_cast<ssize_t>(kWin));
  EXPECT_EQ(::fsync(fd), 0);
  return fd;
}

// Pages of window `w` of `path` in the page cache.
std::size_t residentPages(const std::string& path, uint64_t w) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  void* map = ::mmap(nullptr, kWin, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(w * kWin));
  ::close(fd);
  if (map == MAP_FAILED) return 0;
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v(kWin / page);
  std::size_t n = 0;
  if (::mincore(map, kWin, v.data()) == 0)
    for (unsigned char c : v) n += c & 1;
  ::munmap(map, kWin);
  return n;
}

// posix_fadvise(DONTNEED) is a no-op on tmpfs: only the bookkeeping can be checked there.
bool dropsPages(const std::string& dir) {
  struct statfs fs {};
  return ::statfs(dir.c_str(), &fs) == 0 && fs.f_type != TMPFS_MAGIC;
}

TEST(RecentPages, KeepsTheNewestWindowsUpToTheBudgetAndDropsTheOldest) {
  TempDir dir;
  std::string a = dir / "a", b = dir / "b";
  int fa = writeFile(a, 2), fb = writeFile(b, 2);
  RecentPages recent(3 * kWin);
  recent.keep(fa, a, 0, kWin);
  recent.keep(fa, a, kWin, kWin);
  recent.keep(fb, b, 0, kWin);
  EXPECT_EQ(recent.keptBytes(), 3 * kWin);
  EXPECT_GT(residentPages(a, 0), 0u) << "within the budget: still cached";
  recent.keep(fb, b, kWin, kWin);  // one over: a's first window goes (through its path: fb is b's)
  EXPECT_EQ(recent.keptBytes(), 3 * kWin);
  EXPECT_EQ(recent.windows(), 3u);
  if (dropsPages(dir.path())) {
    EXPECT_EQ(residentPages(a, 0), 0u) << "the oldest window is dropped";
    EXPECT_GT(residentPages(a, 1), 0u);
    EXPECT_GT(residentPages(b, 1), 0u);
  }
  ::close(fa);
  ::close(fb);
}

TEST(RecentPages, ZeroBudgetDropsEachWindowAtOnce) {
  TempDir dir;
  std::string a = dir / "a";
  int fa = writeFile(a, 1);
  RecentPages recent(0);
  recent.keep(fa, a, 0, kWin);
  EXPECT_EQ(recent.keptBytes(), 0u);
  EXPECT_EQ(recent.windows(), 0u);
  if (dropsPages(dir.path())) {
    EXPECT_EQ(residentPages(a, 0), 0u);
  }
  ::close(fa);
}

TEST(RecentPages, FollowsARenamedFileAndForgetsARemovedOne) {
  TempDir dir;
  std::string up = dir / "upload", blob = dir / "blob", other = dir / "other";
  int fu = writeFile(up, 1), fo = writeFile(other, 2);
  RecentPages recent(kWin);
  recent.keep(fu, up, 0, kWin);
  ::close(fu);
  ASSERT_EQ(::rename(up.c_str(), blob.c_str()), 0);
  recent.moved(up, blob);
  recent.keep(fo, other, 0, kWin);  // over the budget: the blob's window goes, found by its new path
  EXPECT_EQ(recent.windows(), 1u);
  if (dropsPages(dir.path())) {
    EXPECT_EQ(residentPages(blob, 0), 0u);
  }

  recent.forget(other);  // removed (a cancelled upload): nothing of it is kept any more
  EXPECT_EQ(recent.windows(), 0u);
  EXPECT_EQ(recent.keptBytes(), 0u);
  recent.keep(fo, other, kWin, kWin);
  EXPECT_EQ(recent.keptBytes(), kWin);
  ::close(fo);
}

// Through the upload store: windows of an upload are kept as it is written,
// follow it into the blob store at the commit, and are dropped from there
// when newer uploads fill the budget.
TEST(RecentPages, UploadStoreKeepsCommittedBlobsUntilNewerUploadsFillTheBudget) {
  TempDir dir;
  storage::Paths paths(dir.path());
  auto meta = std::make_shared<storage::SqliteMetadataStore>(dir / "m.db");
  auto blobs = std::make_shared<storage::FsBlobStore>(paths);
  UploadStore store(paths, meta, blobs, UploadLimits{0, 0, 24 * kWin});
  // 56 MiB: the first three 8 MiB windows are on disk and handed over; the
  // last 32 MiB are left to the commit (UploadSession::startWriteback).
  auto upload = [&](char fill) {
    std::string data(kWin, fill);
    auto s = store.start("local", "app", "alice");
    EXPECT_TRUE(s);
    Sha256 h;
    {
      auto lease = (*s)->acquire();
      EXPECT_TRUE(lease);
      for (int i = 0; i < 56; ++i) {
        EXPECT_TRUE((*s)->append(data.data(), data.size()));
        h.update(data.data(), data.size());
      }
      Digest d = h.finish();
      EXPECT_TRUE(store.commit(*s, d));
      return paths.blob(d);
    }
  };
  std::string first = upload('a');
  EXPECT_GT(residentPages(first, 0), 0u) << "within the budget: the blob just pushed is cached";
  std::string second = upload('b');
  if (dropsPages(dir.path())) {
    EXPECT_EQ(residentPages(first, 0), 0u) << "dropped by its blob path once newer uploads fill the budget";
    EXPECT_GT(residentPages(second, 0), 0u);
  }
}

}  // namespace
}  // namespace berth::repo
