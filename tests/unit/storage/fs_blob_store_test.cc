#include "storage/fs_blob_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "storage/file_util.h"

namespace berth::storage {
namespace {

using berth::testing::countFiles;
using berth::testing::TempDir;

TEST(FsBlobStore, PutBytesIsContentAddressedAndIdempotent) {
  TempDir dir;
  FsBlobStore store{Paths(dir.path())};
  auto d1 = store.putBytes("hello");
  auto d2 = store.putBytes("hello");
  ASSERT_TRUE(d1 && d2);
  EXPECT_EQ(*d1, *d2);
  EXPECT_EQ(*d1, Sha256::of(std::string("hello")));
  EXPECT_EQ(countFiles(dir / "blobs"), 1u);
  auto info = store.stat(*d1);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 5u);
  EXPECT_EQ(*store.readBytes(*d1, 100), "hello");
}

TEST(FsBlobStore, UnknownBlobIsBlobUnknown) {
  TempDir dir;
  FsBlobStore store{Paths(dir.path())};
  Digest d = Sha256::of(std::string("absent"));
  EXPECT_EQ(store.stat(d).error().code, ErrorCode::BlobUnknown);
  EXPECT_EQ(store.open(d).error().code, ErrorCode::BlobUnknown);
  EXPECT_EQ(store.remove(d).error().code, ErrorCode::BlobUnknown);
}

TEST(FsBlobStore, InstallMovesTheFileAndDropsDuplicates) {
  TempDir dir;
  FsBlobStore store{Paths(dir.path())};
  Paths paths(dir.path());
  for (int i = 0; i < 2; ++i) {
    std::string src = paths.upload("u" + std::to_string(i));
    std::ofstream(src) << "layer";
    ASSERT_TRUE(store.install(src, Sha256::of(std::string("layer"))));
    EXPECT_NE(::access(src.c_str(), F_OK), 0) << "source must be consumed";
  }
  EXPECT_EQ(countFiles(dir / "blobs"), 1u);
  EXPECT_EQ(countFiles(dir / "uploads"), 0u);
}

TEST(FsBlobStore, EmptiesTmpAtStart) {
  TempDir dir;
  { FsBlobStore store{Paths(dir.path())}; }
  std::ofstream(dir / "tmp/leftover") << "partial";
  FsBlobStore again{Paths(dir.path())};
  EXPECT_EQ(again.tempFilesRemovedAtStart(), 1u);
  EXPECT_EQ(countFiles(dir / "tmp"), 0u);
}

// A second process beside a running daemon (berth import-registry2) must not
// delete the daemon's temp files.
TEST(FsBlobStore, KeepsTmpWhenAskedTo) {
  TempDir dir;
  { FsBlobStore store{Paths(dir.path())}; }
  std::ofstream(dir / "tmp/daemons") << "partial";
  FsBlobStore beside{Paths(dir.path()), false};
  EXPECT_EQ(beside.tempFilesRemovedAtStart(), 0u);
  EXPECT_EQ(countFiles(dir / "tmp"), 1u);
}

TEST(FsBlobStore, OpenGivesAReadableDescriptor) {
  TempDir dir;
  FsBlobStore store{Paths(dir.path())};
  auto d = store.putBytes("0123456789");
  auto r = store.open(*d);
  ASSERT_TRUE(r);
  char buf[4] = {};
  ASSERT_EQ(::pread((*r)->fd(), buf, 3, 4), 3);
  EXPECT_EQ(std::string(buf), "456");
  EXPECT_EQ((*r)->size(), 10u);
}

}  // namespace
}  // namespace berth::storage
