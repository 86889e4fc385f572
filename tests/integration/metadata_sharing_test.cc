// The metadata database shared with another process while the daemon runs
// (berth import-registry2 beside it, an sqlite3 backup or query): the
// daemon keeps its SQLite locks for as long as it runs, so the other side
// never takes itself for the last connection and never checkpoints and
// deletes the WAL under the daemon. (It did: opening and closing the
// database file to set its mode dropped every lock the daemon held.)
#include <sys/stat.h>

#include <filesystem>

#include "integration/support/fixture.h"
#include "storage/sqlite_db.h"

namespace berth::it {
namespace {

class MetadataSharingTest : public RegistryTest {
 protected:
  std::string db() const { return daemon_.storageRoot() + "/metadata.db"; }
  bool walExists() const { return std::filesystem::exists(db() + "-wal"); }
};

TEST_F(MetadataSharingTest, AnotherProcessWritingBesideTheDaemonLosesNothing) {
  auto first = makeImage();
  local_.pushImage(first, "v1");
  ASSERT_TRUE(walExists());
  {
    storage::SqliteDb other(db());
    ASSERT_TRUE(other.exec("CREATE TABLE IF NOT EXISTS sharing_probe(x INTEGER)"));
    ASSERT_TRUE(other.exec("INSERT INTO sharing_probe VALUES(42)"));
  }  // closed: not the last connection, the daemon's are open
  EXPECT_TRUE(walExists()) << "the other process checkpointed and deleted the daemon's WAL";
  auto second = makeImage();
  local_.pushImage(second, "v2");
  {
    storage::SqliteDb other(db());
    auto s = other.prepare("SELECT (SELECT COUNT(*) FROM sharing_probe), (SELECT COUNT(*) FROM tags)");
    auto row = s.step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(s.integer(0), 1) << "the other process's write is lost";
    EXPECT_EQ(s.integer(1), 2) << "the daemon's writes are not seen";
  }
  http_.close();
  daemon_.restart();
  http_.retarget(daemon_.host(), daemon_.port());
  EXPECT_EQ(local_.getManifest("v1").status, 200);
  EXPECT_EQ(local_.getManifest("v2").status, 200);
  storage::SqliteDb after(db());
  auto s = after.prepare("SELECT COUNT(*) FROM sharing_probe");
  auto row = s.step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(s.integer(0), 1);
}

// Owner-only: the database holds password hashes (and the WAL their changes).
TEST_F(MetadataSharingTest, TheDatabaseAndItsWalAreTheOwnersOnly) {
  local_.pushImage(makeImage(), "v1");
  for (const std::string& f : {db(), db() + "-wal", db() + "-shm"}) {
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
}

}  // namespace
}  // namespace berth::it
