// The base endpoint, the error body, request routing errors and the HTTP
// connection itself.
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using BaseTest = RegistryTest;

TEST_F(BaseTest, BaseEndpointAnswersEmptyObjectWithApiVersion) {
  for (const char* target : {"/v2/", "/v2"}) {
    auto r = http_.get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.describe();
    EXPECT_EQ(r.json(), nlohmann::json::object()) << r.body;
    EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
    EXPECT_TRUE(r.header("Content-Type").starts_with("application/json")) << r.describe();
  }
  auto head = http_.head("/v2/");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

TEST_F(BaseTest, ErrorsCarryTheApiVersionHeaderToo) {
  auto r = http_.get("/v2/nosuch/app/tags/list");
  EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0") << r.describe();
}

TEST_F(BaseTest, UnknownRepositoryKeyIsNameUnknown) {
  EXPECT_API_ERROR(http_.get("/v2/nosuch/app/tags/list"), 404, "NAME_UNKNOWN");
  EXPECT_API_ERROR(http_.get("/v2/nosuch/app/manifests/latest"), 404, "NAME_UNKNOWN");
  EXPECT_API_ERROR(http_.get("/v2/nosuch/app/blobs/" + sha256Of("x")), 404, "NAME_UNKNOWN");
  EXPECT_API_ERROR(http_.post("/v2/nosuch/app/blobs/uploads/"), 404, "NAME_UNKNOWN");
  EXPECT_EQ(http_.head("/v2/nosuch/app/manifests/latest").status, 404);
}

TEST_F(BaseTest, BadImageNameIsNameInvalid) {
  for (const char* name : {"UPPER", "app-", "-app", "a..b", "a//b", "app/", "a__-b", "a___b"}) {
    SCOPED_TRACE(name);
    EXPECT_API_ERROR(http_.get(std::string("/v2/docker-local/") + name + "/tags/list"), 400, "NAME_INVALID");
  }
  EXPECT_API_ERROR(http_.get("/v2/docker-local/Team/app/manifests/latest"), 400, "NAME_INVALID");
  EXPECT_API_ERROR(http_.post("/v2/docker-local/UPPER/blobs/uploads/"), 400, "NAME_INVALID");
}

TEST_F(BaseTest, ValidMultiSegmentNamesAreAccepted) {
  for (const char* name : {"a/b", "team/sub/app", "a.b_c__d-e---f", "0/1/2/3"}) {
    SCOPED_TRACE(name);
    ImageClient img = image(std::string("/v2/docker-local/") + name);
    auto r = img.pushBlob("some bytes");
    EXPECT_EQ(r.status, 201) << r.describe();
    EXPECT_EQ(img.getBlob(sha256Of("some bytes")).body, "some bytes");
  }
}

TEST_F(BaseTest, UnsupportedMethodsAre405Unsupported) {
  const std::string digest = sha256Of("x");
  EXPECT_API_ERROR(http_.post("/v2/docker-local/app/manifests/latest", "{}"), 405, "UNSUPPORTED");
  EXPECT_API_ERROR(http_.patch("/v2/docker-local/app/manifests/latest", "{}"), 405, "UNSUPPORTED");
  EXPECT_API_ERROR(http_.put("/v2/docker-local/app/blobs/" + digest, "x"), 405, "UNSUPPORTED");
  EXPECT_API_ERROR(http_.post("/v2/docker-local/app/blobs/" + digest, "x"), 405, "UNSUPPORTED");
  EXPECT_API_ERROR(http_.del("/v2/docker-local/app/tags/list"), 405, "UNSUPPORTED");
  EXPECT_API_ERROR(http_.get("/v2/docker-local/app/blobs/uploads/"), 405, "UNSUPPORTED");
  EXPECT_API_ERROR(http_.del("/v2/_catalog"), 405, "UNSUPPORTED");
  EXPECT_API_ERROR(http_.post("/v2/", "{}"), 405, "UNSUPPORTED");
}

TEST_F(BaseTest, UnknownRoutesAre404) {
  for (const char* target : {"/v3/", "/", "/v2/docker-local/app/whatever/x", "/v2/docker-local"}) {
    auto r = http_.get(target);
    EXPECT_EQ(r.status, 404) << target << ": " << r.describe();
  }
}

// Nothing can exist under a malformed reference: reads find nothing (as
// registry:2 and the OCI conformance tests expect); a PUT is told why.
TEST_F(BaseTest, MalformedManifestReferenceIsUnknownOnReadAndRejectedOnPut) {
  EXPECT_API_ERROR(local_.getManifest("sha256:abc"), 404, "MANIFEST_UNKNOWN");
  EXPECT_API_ERROR(local_.getManifest(std::string(129, 'a')), 404, "MANIFEST_UNKNOWN");  // tags: at most 128
  Image img = makeImage();
  EXPECT_API_ERROR(local_.putManifest("sha256:abc", img.manifest), 400, "DIGEST_INVALID");
  EXPECT_API_ERROR(local_.putManifest(std::string(129, 'a'), img.manifest), 400, "TAG_INVALID");
}

TEST_F(BaseTest, KeepAliveServesManyRequestsOnOneConnection) {
  for (int i = 0; i < 50; ++i) {
    auto r = http_.get(i % 2 ? "/v2/" : "/v2/nosuch/app/tags/list");
    ASSERT_EQ(r.status, i % 2 ? 200 : 404);
    EXPECT_NE(r.header("Connection"), "close");
  }
}

TEST_F(BaseTest, ConnectionCloseIsHonoured) {
  HttpClient once(daemon_.host(), daemon_.port(), /*keep_alive=*/false);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(once.get("/v2/").status, 200);
}

TEST_F(BaseTest, ExpectContinueGetsAnInterimResponse) {
  Socket s(daemon_.host(), daemon_.port(), 10);
  const std::string body = "continued body";
  ASSERT_TRUE(s.writeAll("POST /v2/docker-local/app/blobs/uploads/?digest=" + sha256Of(body) +
                         " HTTP/1.1\r\nHost: it\r\nExpect: 100-continue\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n"));
  std::string interim = readUntil(s, "\r\n\r\n");
  EXPECT_TRUE(interim.starts_with("HTTP/1.1 100")) << interim;
  ASSERT_TRUE(s.writeAll(body));
  std::string final_answer = readUntil(s, "\r\n\r\n");
  EXPECT_TRUE(final_answer.starts_with("HTTP/1.1 201")) << final_answer;
  EXPECT_EQ(local_.getBlob(sha256Of(body)).body, body);
}

TEST_F(BaseTest, PipelinedRequestsAreAnsweredInOrder) {
  Socket s(daemon_.host(), daemon_.port(), 10);
  ASSERT_TRUE(s.writeAll("GET /v2/ HTTP/1.1\r\nHost: it\r\n\r\n"
                         "GET /v2/nosuch/app/tags/list HTTP/1.1\r\nHost: it\r\n\r\n"
                         "GET /v2/ HTTP/1.1\r\nHost: it\r\nConnection: close\r\n\r\n"));
  std::string all = readUntil(s, "\x01never");  // until the server closes
  auto first = all.find("HTTP/1.1 200"), second = all.find("HTTP/1.1 404"), third = all.rfind("HTTP/1.1 200");
  EXPECT_NE(first, std::string::npos) << all;
  EXPECT_NE(second, std::string::npos) << all;
  EXPECT_TRUE(first < second && second < third && third != std::string::npos) << all;
}

TEST_F(BaseTest, OversizedHeaderIsRefused) {
  auto r = http_.get("/v2/", {{"X-Filler", std::string(256 * 1024, 'x')}});
  EXPECT_TRUE(r.status == 431 || r.status == 400) << r.describe();
}

TEST_F(BaseTest, MalformedHttpGetsA400AndTheConnectionCloses) {
  Socket s(daemon_.host(), daemon_.port(), 10);
  ASSERT_TRUE(s.writeAll("THIS IS NOT HTTP\r\n\r\n"));
  std::string got = readUntil(s, "\x01never");  // until the server closes
  EXPECT_TRUE(got.starts_with("HTTP/1.1 400")) << got;
}

}  // namespace
}  // namespace berth::it
