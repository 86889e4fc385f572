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

TEST(Router, OnARepositoryPortTheWholeNameIsTheImage) {
  auto r = matchRoute("/v2/library/alpine/manifests/latest", "docker-remote");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, RouteKind::Manifest);
  EXPECT_EQ(r->repo_key, "docker-remote");
  EXPECT_EQ(r->image, "library/alpine");
  EXPECT_EQ(r->tail, "latest");
  EXPECT_EQ(r->imageUrl(), "/v2/library/alpine") << "Location headers stay on the port's layout";
  EXPECT_EQ(r->clientName(), "library/alpine") << "token scopes and tags/list name the image as the client does";
  EXPECT_EQ(r->family, "/v2");
  // A single-segment name, and a first segment that is another repository's key: both images of the port's.
  EXPECT_EQ(matchRoute("/v2/alpine/blobs/sha256:00", "docker-remote")->image, "alpine");
  auto other = matchRoute("/v2/docker-local/app/tags/list", "docker-remote");
  EXPECT_EQ(other->repo_key, "docker-remote");
  EXPECT_EQ(other->image, "docker-local/app");
  EXPECT_EQ(matchRoute("/v2/a/blobs/uploads/", "p")->kind, RouteKind::UploadStart);
  EXPECT_EQ(matchRoute("/v2/a/blobs/uploads/id-1", "p")->imageUrl(), "/v2/a");
}

TEST(Router, OnARepositoryPortBaseTokenAndCatalog) {
  auto base = matchRoute("/v2/", "p");
  EXPECT_EQ(base->kind, RouteKind::Base);
  EXPECT_EQ(base->repo_key, "") << "/v2/ answers as on the main port";
  auto token = matchRoute("/v2/token", "p");
  EXPECT_EQ(token->kind, RouteKind::Token);
  EXPECT_EQ(token->repo_key, "p") << "scopes name images of the port's repository";
  EXPECT_EQ(token->family, "/v2");
  EXPECT_EQ(matchRoute("/v2/auth", "p")->kind, RouteKind::AuthConfig);
  auto catalog = matchRoute("/v2/_catalog", "p");
  EXPECT_EQ(catalog->kind, RouteKind::RepoCatalog);
  EXPECT_EQ(catalog->repo_key, "p");
  EXPECT_EQ(catalog->base + "/_catalog", "/v2/_catalog");
  // The other families work there as on the main port.
  auto art = matchRoute("/api/docker/docker-dev/v2/app/manifests/1", "p");
  EXPECT_EQ(art->repo_key, "docker-dev");
  EXPECT_EQ(matchRoute("/api/security/users", "p")->kind, RouteKind::Security);
  EXPECT_EQ(matchRoute("/v2/token")->repo_key, "") << "the main port's token endpoint is unchanged";
}

TEST(Router, OnARepositoryPortUnknownShapesAndBadNamesAreRefused) {
  EXPECT_EQ(matchRoute("/v2/alpine", "p").error().code, ErrorCode::NameUnknown);
  EXPECT_EQ(matchRoute("/v2/a/unknown/x", "p").error().code, ErrorCode::NameUnknown);
  EXPECT_EQ(matchRoute("/v2/Alpine/tags/list", "p").error().code, ErrorCode::NameInvalid);
  EXPECT_EQ(matchRoute("/v2/tags/list", "p").error().code, ErrorCode::NameInvalid);
  EXPECT_EQ(matchRoute("/v2//manifests/x", "p").error().code, ErrorCode::NameInvalid);
  EXPECT_EQ(matchRoute("/other", "p").error().code, ErrorCode::NameUnknown);
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

namespace berth::api {
namespace {

TEST(Router, PromoteIsItsOwnRouteInBothArtifactoryFamilies) {
  for (std::string prefix : {"/artifactory/api/docker/docker-dev/v2", "/api/docker/docker-dev/v2"}) {
    auto r = matchRoute(prefix + "/promote");
    ASSERT_TRUE(r) << prefix;
    EXPECT_EQ(r->kind, RouteKind::Promote);
    EXPECT_EQ(r->repo_key, "docker-dev");
    // An image called "promote" keeps its registry routes.
    auto m = matchRoute(prefix + "/promote/manifests/1");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->kind, RouteKind::Manifest);
    EXPECT_EQ(m->image, "promote");
  }
  EXPECT_EQ(matchRoute("/v2/docker-dev/promote").error().code, ErrorCode::NameUnknown) << "not under /v2";
}

TEST(Router, SystemRoutesInBothFamilies) {
  for (const char* p : {"/api/system/reload", "/artifactory/api/system/reload"}) {
    auto r = matchRoute(p);
    ASSERT_TRUE(r) << p;
    EXPECT_EQ(r->kind, RouteKind::SystemReload) << p;
    EXPECT_EQ(r->repo_key, "") << p;
  }
  EXPECT_EQ(matchRoute("/api/system/storage/gc")->kind, RouteKind::StorageGc);
  EXPECT_FALSE(matchRoute("/api/system/reload/now"));
}

TEST(Router, ArtifactoryRepositoryPaths) {
  auto r = matchRoute("/artifactory/docker-dev/team/app/1.0");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, RouteKind::RepoPath);
  EXPECT_EQ(r->repo_key, "docker-dev");
  EXPECT_EQ(r->tail, "team/app/1.0");
  EXPECT_EQ(matchRoute("/artifactory/docker-dev")->tail, "");
  EXPECT_EQ(matchRoute("/artifactory/docker-dev/")->tail, "");
  // "api" is Artifactory's REST API, never a repository key.
  EXPECT_EQ(matchRoute("/artifactory/api/docker/k/v2/a/tags/list")->kind, RouteKind::Tags);
  EXPECT_EQ(matchRoute("/artifactory/api/security/users")->kind, RouteKind::Security);
  EXPECT_FALSE(matchRoute("/artifactory/api"));
  EXPECT_FALSE(matchRoute("/artifactory/"));
  // Without the /artifactory prefix such paths are no route at all.
  EXPECT_EQ(matchRoute("/docker-dev/app/1").error().code, ErrorCode::NameUnknown);
}

TEST(Router, SubdomainNamesOneRepository) {
  const std::string base = "registry.example.com";
  EXPECT_EQ(subdomainRepository("docker-local.registry.example.com", base), "docker-local");
  EXPECT_EQ(subdomainRepository("docker-local.registry.example.com:5000", base), "docker-local");
  EXPECT_EQ(subdomainRepository("Docker-Local.Registry.Example.COM.", base), "docker-local");
  EXPECT_EQ(subdomainRepository("registry.example.com", base), "") << "the base itself: the main routes";
  EXPECT_EQ(subdomainRepository(".registry.example.com", base), "");
  EXPECT_EQ(subdomainRepository("a.b.registry.example.com", base), "") << "one label only";
  EXPECT_EQ(subdomainRepository("docker-localregistry.example.com", base), "");
  EXPECT_EQ(subdomainRepository("docker-local.other.com", base), "");
  EXPECT_EQ(subdomainRepository("127.0.0.1:5000", base), "");
  EXPECT_EQ(subdomainRepository("[::1]:5000", base), "");
  EXPECT_EQ(subdomainRepository("docker-local.registry.example.com", ""), "") << "not configured";
  EXPECT_EQ(subdomainRepository("", base), "");
}

}  // namespace
}  // namespace berth::api
