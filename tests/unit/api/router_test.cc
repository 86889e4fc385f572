#include "api/router.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

TEST(Router, V2FamilyTakesTheKeyFromTheFirstComponent) {
  auto r = matchRoute("/v2/docker-local/library/alpine/manifests/3.19");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, RouteKind::Manifest);
  EXPECT_EQ(r->repo_key, "docker-local");
  EXPECT_EQ(r->image, "library/alpine");
  EXPECT_EQ(r->tail, "3.19");
  EXPECT_EQ(r->imageUrl(), "/v2/docker-local/library/alpine");
  EXPECT_EQ(r->clientName(), "docker-local/library/alpine");
}

TEST(Router, ArtifactoryFamilies) {
  for (std::string prefix : {"/artifactory/api/docker/docker-dev/v2", "/api/docker/docker-dev/v2"}) {
    auto r = matchRoute(prefix + "/app/blobs/uploads/abc-123");
    ASSERT_TRUE(r) << prefix;
    EXPECT_EQ(r->kind, RouteKind::Upload);
    EXPECT_EQ(r->repo_key, "docker-dev");
    EXPECT_EQ(r->image, "app");
    EXPECT_EQ(r->tail, "abc-123");
    EXPECT_EQ(r->imageUrl(), prefix + "/app");
    EXPECT_EQ(r->clientName(), "app");
    EXPECT_EQ(matchRoute(prefix + "/_catalog")->kind, RouteKind::RepoCatalog);
    EXPECT_EQ(matchRoute(prefix + "/")->kind, RouteKind::Base);
  }
}

TEST(Router, AllKinds) {
  EXPECT_EQ(matchRoute("/v2/")->kind, RouteKind::Base);
  EXPECT_EQ(matchRoute("/v2/_catalog")->kind, RouteKind::Catalog);
  EXPECT_EQ(matchRoute("/v2/k/a/b/tags/list")->kind, RouteKind::Tags);
  EXPECT_EQ(matchRoute("/v2/k/a/blobs/uploads/")->kind, RouteKind::UploadStart);
  EXPECT_EQ(matchRoute("/v2/k/a/blobs/uploads")->kind, RouteKind::UploadStart);
  EXPECT_EQ(matchRoute("/v2/k/a/blobs/sha256:00")->kind, RouteKind::Blob);
  EXPECT_EQ(matchRoute("/v2/k/a/referrers/sha256:00")->kind, RouteKind::Referrers);
  // An image may itself be called "blobs" or "manifests".
  auto r = matchRoute("/v2/k/manifests/manifests/latest");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->image, "manifests");
}

TEST(Router, RefusesBadNamesAndUnknownShapes) {
  EXPECT_EQ(matchRoute("/v2/k/UPPER/tags/list").error().code, ErrorCode::NameInvalid);
  EXPECT_EQ(matchRoute("/v2/k/a/../b/tags/list").error().code, ErrorCode::NameInvalid);
  EXPECT_EQ(matchRoute("/v2/k/tags/list").error().code, ErrorCode::NameInvalid);
  EXPECT_EQ(matchRoute("/v2/k/a/unknown/x").error().code, ErrorCode::NameUnknown);
  EXPECT_EQ(matchRoute("/other").error().code, ErrorCode::NameUnknown);
}

}  // namespace
}  // namespace berth::api
