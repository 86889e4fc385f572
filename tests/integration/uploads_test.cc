// Blob uploads: monolithic POST, sessions (POST, PATCH, GET, PUT, DELETE),
// digest checks and upload ids.
#include <cstring>

#include "integration/support/fixture.h"

namespace berth::it {
namespace {

class UploadsTest : public RegistryTest {
 protected:
  // Starts a session on local_ and returns its Location.
  std::string start() {
    auto r = local_.startUpload();
    EXPECT_EQ(r.status, 202) << r.describe();
    return r.header("Location");
  }
  // Expects a 202/204 progress answer for an upload that holds `size` bytes.
  static void expectProgress(const Response& r, int status, uint64_t size) {
    EXPECT_EQ(r.status, status) << r.describe();
    EXPECT_EQ(r.header("Range"), "0-" + std::to_string(size == 0 ? 0 : size - 1)) << r.describe();
    EXPECT_FALSE(r.header("Docker-Upload-UUID").empty()) << r.describe();
    EXPECT_NE(r.header("Location").find(r.header("Docker-Upload-UUID")), std::string::npos) << r.describe();
  }
  // The blob is readable from local_ with exactly these bytes.
  void expectStored(const std::string& bytes) {
    auto r = local_.getBlob(sha256Of(bytes));
    EXPECT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.body == bytes) << "content differs (" << r.body.size() << " bytes, expected " << bytes.size() << ")";
  }
};

TEST_F(UploadsTest, MonolithicPostCreatesTheBlob) {
  Blob b = Blob::random(5000);
  auto r = local_.pushBlob(b.bytes);
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.header("Location"), "/v2/docker-local/app/blobs/" + b.digest);
  EXPECT_EQ(r.header("Docker-Content-Digest"), b.digest);
  EXPECT_EQ(http_.get(pathOf(r.header("Location"))).body, b.bytes);
}

TEST_F(UploadsTest, MonolithicPostWithChunkedBody) {
  Blob b = Blob::random(300000);
  Request req;
  req.method = "POST";
  req.target = local_.url() + "/blobs/uploads/?digest=" + b.digest;
  req.body = b.bytes;
  req.chunked = true;
  auto r = http_.send(req);
  EXPECT_EQ(r.status, 201) << r.describe();
  expectStored(b.bytes);
}

TEST_F(UploadsTest, SessionPostAnswers202WithLocationUuidAndRange) {
  auto r = local_.startUpload();
  expectProgress(r, 202, 0);
  EXPECT_TRUE(r.header("Location").starts_with("/v2/docker-local/app/blobs/uploads/")) << r.describe();
  EXPECT_EQ(r.header("Content-Length"), "0");
}

TEST_F(UploadsTest, PatchWithContentLengthAdvancesTheRange) {
  std::string loc = start();
  auto r = local_.patchChunk(loc, std::string(1000, 'a'));
  expectProgress(r, 202, 1000);
  r = local_.patchChunk(r.header("Location"), std::string(24, 'b'));
  expectProgress(r, 202, 1024);
}

TEST_F(UploadsTest, PatchWithChunkedBodyAdvancesTheRange) {
  std::string loc = start();
  std::string data = randomBytes(700000);
  std::size_t sent = 0;
  Request req;
  req.method = "PATCH";
  req.target = pathOf(loc);
  req.source = [&](char* buf, std::size_t cap) {  // uneven pieces, no Content-Length
    std::size_t n = std::min({cap, data.size() - sent, std::size_t{65521}});
    std::memcpy(buf, data.data() + sent, n);
    sent += n;
    return n;
  };
  auto r = http_.send(req);
  expectProgress(r, 202, data.size());
  EXPECT_EQ(local_.finishUpload(r.header("Location"), sha256Of(data)).status, 201);
  expectStored(data);
}

TEST_F(UploadsTest, PatchWithContentRangeInOrder) {
  std::string data = randomBytes(30);
  std::string loc = start();
  auto r = local_.patchChunk(loc, data.substr(0, 10), 0);
  expectProgress(r, 202, 10);
  r = local_.patchChunk(r.header("Location"), data.substr(10, 20), 10);
  expectProgress(r, 202, 30);
  EXPECT_EQ(local_.finishUpload(r.header("Location"), sha256Of(data)).status, 201);
  expectStored(data);
}

TEST_F(UploadsTest, OutOfOrderContentRangeIs416AndKeepsTheUpload) {
  std::string loc = start();
  ASSERT_EQ(local_.patchChunk(loc, std::string(10, 'a'), 0).status, 202);
  EXPECT_API_ERROR(local_.patchChunk(loc, std::string(10, 'c'), 20), 416, "RANGE_INVALID");
  EXPECT_API_ERROR(local_.patchChunk(loc, std::string(10, 'a'), 0), 416, "RANGE_INVALID");
  expectProgress(http_.get(pathOf(loc)), 204, 10);
  auto r = local_.patchChunk(loc, std::string(10, 'b'), 10);
  expectProgress(r, 202, 20);
}

TEST_F(UploadsTest, ContentRangeThatDisagreesWithTheBodyIsRejected) {
  // registry:2 refuses a chunk whose Content-Range does not span its Content-Length
  // (SIZE_INVALID); the OCI spec answers a bad chunk with 416.
  for (const char* range : {"0-99", "0-4"}) {
    SCOPED_TRACE(range);
    std::string loc = start();
    auto r = http_.patch(pathOf(loc), std::string(10, 'a'), {{"Content-Range", range}});
    EXPECT_TRUE(r.status == 416 || r.status == 400) << r.describe();
    EXPECT_TRUE(r.errorCode() == "RANGE_INVALID" || r.errorCode() == "SIZE_INVALID") << r.describe();
    expectProgress(http_.get(pathOf(loc)), 204, 0);
  }
}

TEST_F(UploadsTest, GetStatusIs204WithRange) {
  std::string loc = start();
  expectProgress(http_.get(pathOf(loc)), 204, 0);
  ASSERT_EQ(local_.patchChunk(loc, std::string(77, 'x')).status, 202);
  auto r = http_.get(pathOf(loc));
  expectProgress(r, 204, 77);
  EXPECT_EQ(r.body, "");
}

TEST_F(UploadsTest, PutWithoutLastChunk) {
  std::string data = randomBytes(4096);
  auto r = local_.pushBlobInChunks(data, 1000, /*last_chunk_in_put=*/false);
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.header("Docker-Content-Digest"), sha256Of(data));
  EXPECT_EQ(r.header("Location"), "/v2/docker-local/app/blobs/" + sha256Of(data));
  expectStored(data);
}

TEST_F(UploadsTest, PutWithLastChunk) {
  std::string data = randomBytes(4096);
  auto r = local_.pushBlobInChunks(data, 1000, /*last_chunk_in_put=*/true);
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.header("Docker-Content-Digest"), sha256Of(data));
  expectStored(data);
}

TEST_F(UploadsTest, PutWithTheWholeBlobAndNoPatch) {
  std::string data = randomBytes(2048);
  auto r = local_.finishUpload(start(), sha256Of(data), data);
  EXPECT_EQ(r.status, 201) << r.describe();
  expectStored(data);
}

TEST_F(UploadsTest, PutWithoutDigestIsRejected) {
  std::string loc = start();
  EXPECT_API_ERROR(http_.put(pathOf(loc), "abc"), 400, "DIGEST_INVALID");
  EXPECT_API_ERROR(local_.finishUpload(loc, "sha256:nothex"), 400, "DIGEST_INVALID");
}

TEST_F(UploadsTest, WrongDigestOnMonolithicPostStoresNothing) {
  std::string claimed = sha256Of("something else");
  auto r = http_.post(local_.url() + "/blobs/uploads/?digest=" + claimed, "actual bytes");
  EXPECT_API_ERROR(r, 400, "DIGEST_INVALID");
  EXPECT_EQ(local_.headBlob(claimed).status, 404);
  EXPECT_EQ(local_.headBlob(sha256Of("actual bytes")).status, 404);
  EXPECT_TRUE(blobFiles().empty());
}

TEST_F(UploadsTest, WrongDigestOnPutStoresNothing) {
  std::string loc = start();
  ASSERT_EQ(local_.patchChunk(loc, "actual bytes").status, 202);
  std::string claimed = sha256Of("something else");
  EXPECT_API_ERROR(local_.finishUpload(loc, claimed), 400, "DIGEST_INVALID");
  EXPECT_EQ(local_.headBlob(claimed).status, 404);
  EXPECT_EQ(local_.headBlob(sha256Of("actual bytes")).status, 404);
  EXPECT_TRUE(blobFiles().empty());
}

TEST_F(UploadsTest, DeleteCancelsTheUpload) {
  std::string loc = start();
  ASSERT_EQ(local_.patchChunk(loc, "partial").status, 202);
  auto r = http_.del(pathOf(loc));
  EXPECT_EQ(r.status, 204) << r.describe();
  EXPECT_API_ERROR(http_.get(pathOf(loc)), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_API_ERROR(local_.patchChunk(loc, "more"), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_API_ERROR(local_.finishUpload(loc, sha256Of("partial")), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_API_ERROR(http_.del(pathOf(loc)), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_TRUE(uploadFiles().empty());
}

TEST_F(UploadsTest, FinishedUploadIsGone) {
  std::string loc = start();
  ASSERT_EQ(local_.finishUpload(loc, sha256Of("abc"), "abc").status, 201);
  EXPECT_API_ERROR(http_.get(pathOf(loc)), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_API_ERROR(local_.patchChunk(loc, "more"), 404, "BLOB_UPLOAD_UNKNOWN");
  EXPECT_TRUE(uploadFiles().empty());
}

TEST_F(UploadsTest, UnknownUploadIdIsBlobUploadUnknown) {
  for (const std::string& id : {std::string("0a1b2c3d-0000-4000-8000-000000000000"), std::string("nonsense")}) {
    std::string loc = local_.url() + "/blobs/uploads/" + id;
    SCOPED_TRACE(loc);
    EXPECT_API_ERROR(http_.get(loc), 404, "BLOB_UPLOAD_UNKNOWN");
    EXPECT_API_ERROR(local_.patchChunk(loc, "x"), 404, "BLOB_UPLOAD_UNKNOWN");
    EXPECT_API_ERROR(local_.finishUpload(loc, sha256Of("x"), "x"), 404, "BLOB_UPLOAD_UNKNOWN");
    EXPECT_API_ERROR(http_.del(loc), 404, "BLOB_UPLOAD_UNKNOWN");
  }
}

TEST_F(UploadsTest, UploadIdOfAnotherImageIsUnknown) {
  std::string loc = start();
  std::string uuid = loc.substr(loc.rfind('/') + 1);
  for (const char* other : {"/v2/docker-local/other", "/v2/docker-dev/app", "/v2/docker-local/app/sub"}) {
    std::string there = std::string(other) + "/blobs/uploads/" + uuid;
    SCOPED_TRACE(there);
    EXPECT_API_ERROR(http_.get(there), 404, "BLOB_UPLOAD_UNKNOWN");
    EXPECT_API_ERROR(local_.patchChunk(there, "x"), 404, "BLOB_UPLOAD_UNKNOWN");
    EXPECT_API_ERROR(local_.finishUpload(there, sha256Of("x"), "x"), 404, "BLOB_UPLOAD_UNKNOWN");
  }
  expectProgress(http_.get(pathOf(loc)), 204, 0);  // still there for its own image
}

TEST_F(UploadsTest, SessionIsUsableFromAnotherConnectionRightAway) {
  // Clients with a connection pool may send each step of an upload on another
  // connection, the moment the previous answer arrives.
  HttpClient second = newClient();
  ImageClient other(second, local_.url());
  int failed = 0;
  std::string first_failure;
  for (int i = 0; i < 100; ++i) {
    std::string data = "chunk " + std::to_string(i);
    auto r = local_.startUpload();
    ASSERT_EQ(r.status, 202) << r.describe();
    auto patch = other.patchChunk(r.header("Location"), data);
    auto put = local_.finishUpload(r.header("Location"), sha256Of(data));
    if (patch.status != 202 || put.status != 201) {
      if (failed++ == 0) first_failure = "PATCH: " + patch.describe() + "\nPUT: " + put.describe();
    }
  }
  EXPECT_EQ(failed, 0) << "of 100 uploads; the first failure:\n" << first_failure;
}

TEST_F(UploadsTest, ManySmallChunksAddUp) {
  std::string data = randomBytes(3 * 1024 * 1024 + 17);
  auto r = local_.pushBlobInChunks(data, 256 * 1024 + 3);
  EXPECT_EQ(r.status, 201) << r.describe();
  expectStored(data);
}

TEST_F(UploadsTest, UploadSessionSurvivesARestart) {
  std::string data = randomBytes(200000);
  std::string loc = start();
  ASSERT_EQ(local_.patchChunk(loc, data.substr(0, 120000)).status, 202);
  restartDaemon();
  expectProgress(http_.get(pathOf(loc)), 204, 120000);
  auto r = local_.patchChunk(loc, data.substr(120000), 120000);
  expectProgress(r, 202, data.size());
  r = local_.finishUpload(r.header("Location"), sha256Of(data));
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.header("Docker-Content-Digest"), sha256Of(data));
  expectStored(data);
}

}  // namespace
}  // namespace berth::it
