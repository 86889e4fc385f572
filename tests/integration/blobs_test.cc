// Blob reads (HEAD, GET, Range), deletion, per-repository links and the
// single content-addressed store under them.
#include <filesystem>

#include "integration/support/fixture.h"

namespace berth::it {
namespace {

class BlobsTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    blob_ = Blob::random(100);
    ASSERT_EQ(local_.pushBlob(blob_.bytes).status, 201);
  }
  Blob blob_;
};

TEST_F(BlobsTest, HeadGivesDigestLengthAndEtagWithoutBody) {
  auto r = local_.headBlob(blob_.digest);
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.header("Docker-Content-Digest"), blob_.digest);
  EXPECT_EQ(r.header("Content-Length"), "100");
  EXPECT_NE(r.header("ETag").find(blob_.digest), std::string::npos) << r.header("ETag");
  EXPECT_EQ(r.body, "");
}

TEST_F(BlobsTest, GetReturnsTheBytes) {
  auto r = local_.getBlob(blob_.digest);
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.body, blob_.bytes);
  EXPECT_EQ(r.header("Docker-Content-Digest"), blob_.digest);
  EXPECT_EQ(r.header("Content-Length"), "100");
  EXPECT_NE(r.header("ETag").find(blob_.digest), std::string::npos) << r.header("ETag");
}

TEST_F(BlobsTest, EmptyBlobRoundTrips) {
  Blob empty = Blob::of("");
  ASSERT_EQ(local_.pushBlob("").status, 201);
  auto r = local_.getBlob(empty.digest);
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.header("Content-Length"), "0");
  EXPECT_EQ(r.body, "");
}

struct RangeCase {
  std::string header;
  std::size_t first, last;  // inclusive, of a 100-byte blob
};

class BlobRangeTest : public BlobsTest, public ::testing::WithParamInterface<RangeCase> {};

TEST_P(BlobRangeTest, ServesThePartialContent) {
  const auto& c = GetParam();
  auto r = local_.getBlob(blob_.digest, {{"Range", c.header}});
  ASSERT_EQ(r.status, 206) << r.describe();
  EXPECT_EQ(r.header("Content-Range"),
            "bytes " + std::to_string(c.first) + "-" + std::to_string(c.last) + "/100");
  EXPECT_EQ(r.header("Content-Length"), std::to_string(c.last - c.first + 1));
  EXPECT_EQ(r.body, blob_.bytes.substr(c.first, c.last - c.first + 1));
  EXPECT_EQ(r.header("Docker-Content-Digest"), blob_.digest);
}

INSTANTIATE_TEST_SUITE_P(Ranges, BlobRangeTest,
                         ::testing::Values(RangeCase{"bytes=0-9", 0, 9}, RangeCase{"bytes=5-", 5, 99},
                                           RangeCase{"bytes=-3", 97, 99}, RangeCase{"bytes=99-99", 99, 99},
                                           RangeCase{"bytes=90-1000", 90, 99}, RangeCase{"bytes=-500", 0, 99}));

TEST_F(BlobsTest, UnsatisfiableRangeIs416) {
  for (const char* range : {"bytes=100-", "bytes=100-200", "bytes=-0"}) {
    auto r = local_.getBlob(blob_.digest, {{"Range", range}});
    EXPECT_EQ(r.status, 416) << range << ": " << r.describe();
    EXPECT_EQ(r.header("Content-Range"), "bytes */100") << range;
  }
}

TEST_F(BlobsTest, DeleteUnlinksFromThatRepositoryOnly) {
  ASSERT_EQ(dev_.pushBlob(blob_.bytes).status, 201);
  auto del = local_.deleteBlob(blob_.digest);
  EXPECT_EQ(del.status, 202) << del.describe();
  EXPECT_EQ(local_.headBlob(blob_.digest).status, 404);
  EXPECT_API_ERROR(local_.getBlob(blob_.digest), 404, "BLOB_UNKNOWN");
  auto other = dev_.getBlob(blob_.digest);
  EXPECT_EQ(other.status, 200) << other.describe();
  EXPECT_EQ(other.body, blob_.bytes);
  EXPECT_TRUE(std::filesystem::exists(blobPath(blob_.digest)));
}

TEST_F(BlobsTest, DeleteOfAnUnknownBlobIsBlobUnknown) {
  EXPECT_API_ERROR(dev_.deleteBlob(blob_.digest), 404, "BLOB_UNKNOWN");
  ASSERT_EQ(local_.deleteBlob(blob_.digest).status, 202);
  EXPECT_API_ERROR(local_.deleteBlob(blob_.digest), 404, "BLOB_UNKNOWN");
}

TEST_F(BlobsTest, DeletedBlobCanBePushedAgain) {
  ASSERT_EQ(local_.deleteBlob(blob_.digest).status, 202);
  ASSERT_EQ(local_.pushBlob(blob_.bytes).status, 201);
  EXPECT_EQ(local_.getBlob(blob_.digest).body, blob_.bytes);
}

TEST_F(BlobsTest, SameBlobInManyRepositoriesIsOneFile) {
  ASSERT_EQ(blobFiles().size(), 1u);
  EXPECT_EQ(dev_.pushBlob(blob_.bytes).status, 201);
  EXPECT_EQ(image("/v2/docker-local/other").pushBlob(blob_.bytes).status, 201);
  EXPECT_EQ(image("/v2/docker-dev/team/app").pushBlobInChunks(blob_.bytes, 30).status, 201);
  EXPECT_EQ(local_.pushBlob(blob_.bytes).status, 201);  // again into the same image
  auto files = blobFiles();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(daemon_.storageRoot() + "/blobs/" + files[0], blobPath(blob_.digest));
  EXPECT_EQ(readFile(blobPath(blob_.digest)), blob_.bytes);
}

TEST_F(BlobsTest, RepositoryThatNeverLinkedTheBlobDoesNotServeIt) {
  for (const ImageClient& other : {dev_, image("/v2/docker-local/other"), image("/api/docker/docker-dev/v2/app")}) {
    SCOPED_TRACE(other.url());
    EXPECT_EQ(other.headBlob(blob_.digest).status, 404);
    EXPECT_API_ERROR(other.getBlob(blob_.digest), 404, "BLOB_UNKNOWN");
    EXPECT_API_ERROR(other.getBlob(blob_.digest, {{"Range", "bytes=0-9"}}), 404, "BLOB_UNKNOWN");
  }
  EXPECT_TRUE(std::filesystem::exists(blobPath(blob_.digest)));
}

TEST_F(BlobsTest, UnknownBlobIsBlobUnknown) {
  const std::string digest = sha256Of("never pushed");
  EXPECT_EQ(local_.headBlob(digest).status, 404);
  EXPECT_API_ERROR(local_.getBlob(digest), 404, "BLOB_UNKNOWN");
}

TEST_F(BlobsTest, MalformedDigestIsDigestInvalid) {
  const std::string hex64(64, 'a');
  for (const std::string& d : {std::string("sha256:abc"), "sha256:" + std::string(64, 'A'), std::string("nodigest"),
                               "sha256:" + hex64 + "0", "sha256:" + std::string(63, 'a') + "g"}) {
    SCOPED_TRACE(d);
    EXPECT_API_ERROR(local_.getBlob(d), 400, "DIGEST_INVALID");
    EXPECT_EQ(local_.headBlob(d).status, 400);
    EXPECT_API_ERROR(local_.deleteBlob(d), 400, "DIGEST_INVALID");
  }
}

TEST_F(BlobsTest, UnsupportedDigestAlgorithmIsRejected) {
  // registry:2 answers DIGEST_INVALID for algorithms it cannot verify.
  EXPECT_API_ERROR(local_.getBlob("sha512:" + std::string(128, 'a')), 400, "DIGEST_INVALID");
}

}  // namespace
}  // namespace berth::it
