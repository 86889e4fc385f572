#include "storage/read_connections.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::storage {
namespace {

using berth::testing::TempDir;

TEST(ReadConnections, SizedByCoresWithinBounds) {
  EXPECT_EQ(ReadConnections::sizeFor(0), 2u);
  EXPECT_EQ(ReadConnections::sizeFor(2), 4u);
  EXPECT_EQ(ReadConnections::sizeFor(64), 16u);
}

TEST(ReadConnections, RefuseWrites) {
  TempDir dir;
  SqliteMetadataStore store(dir / "m.db");  // creates the schema
  ReadConnections reads(dir / "m.db", 1);
  auto lease = reads.acquire();
  EXPECT_FALSE(lease.db().exec("DELETE FROM tags")) << "query_only";
}

TEST(ReadConnections, ConcurrentLeasesGetDifferentConnections) {
  TempDir dir;
  SqliteMetadataStore store(dir / "m.db");
  ReadConnections reads(dir / "m.db", 2);
  auto a = reads.acquire();
  auto b = reads.acquire();  // would wait for ever if it got a's connection
  EXPECT_NE(&a.db(), &b.db());
}

// A commit is visible to the next read at once, and reads running beside a
// stream of commits see either the old or the new tag, never an error.
TEST(ReadConnections, ReadsSeeEachCommitAndNeverFailBesideWrites) {
  TempDir dir;
  SqliteMetadataStore store(dir / "m.db", SyncMode::Normal);
  auto write = [&](int i) {
    ManifestWrite w;
    w.record.repo = "local";
    w.record.name = "app";
    w.record.digest = Sha256::of("m" + std::to_string(i));
    w.record.media_type = "application/vnd.oci.image.manifest.v1+json";
    w.record.size = 2;
    w.tag = "latest";
    return store.putManifest(w);
  };
  ASSERT_TRUE(write(0));
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, misses{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      while (!done) {
        auto d = store.resolveTag("local", "app", "latest");
        if (!d) ++failures;
        else if (!*d || !*store.manifest("local", "app", **d)) ++misses;
      }
    });
  for (int i = 1; i <= 200; ++i) {
    ASSERT_TRUE(write(i));
    auto d = store.resolveTag("local", "app", "latest");
    ASSERT_TRUE(d && *d);
    EXPECT_EQ(**d, Sha256::of("m" + std::to_string(i))) << "read-your-writes after commit " << i;
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(misses, 0) << "a tag's manifest is kept (putManifest never removes the old one)";
}

}  // namespace
}  // namespace berth::storage
