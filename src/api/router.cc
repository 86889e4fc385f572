#include "api/router.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "berth/core/reference.h"

namespace berth::api {
namespace {

tl::unexpected<Error> noRoute(const std::string& path) {
  return fail(ErrorCode::NameUnknown, "no such route", path.substr(0, 300));
}

bool endsWith(std::string_view s, std::string_view suffix) { return s.size() >= suffix.size() && s.ends_with(suffix); }

// Splits "<image>/<kind>/<tail>" into route parts. `rest` has no leading '/'.
Result<Route> matchImageRoute(std::string_view rest_no_slash, Route route, const std::string& path) {
  // With a leading '/', an empty image name still matches its marker (and is refused below).
  std::string padded = "/" + std::string(rest_no_slash);
  std::string_view rest = padded;
  auto take = [&](RouteKind kind, std::size_t name_end, std::string_view tail) -> Result<Route> {
    route.kind = kind;
    route.image = std::string(rest.substr(1, name_end == 0 ? 0 : name_end - 1));
    route.tail = std::string(tail);
    if (route.tail.find('/') != std::string::npos) return noRoute(path);
    if (!isValidImageName(route.image))
      return fail(ErrorCode::NameInvalid, "invalid repository name", route.image.substr(0, 300));
    return route;
  };
  if (endsWith(rest, "/tags/list")) return take(RouteKind::Tags, rest.size() - 10, {});
  if (endsWith(rest, "/blobs/uploads")) return take(RouteKind::UploadStart, rest.size() - 14, {});
  if (endsWith(rest, "/blobs/uploads/")) return take(RouteKind::UploadStart, rest.size() - 15, {});
  // The kind marker is the last one before a slash-free tail.
  auto slash = rest.rfind('/');
  if (slash == std::string_view::npos) return noRoute(path);
  std::string_view tail = rest.substr(slash + 1), head = rest.substr(0, slash);
  if (endsWith(head, "/blobs/uploads")) return take(RouteKind::Upload, head.size() - 14, tail);
  if (endsWith(head, "/blobs")) return take(RouteKind::Blob, head.size() - 6, tail);
  if (endsWith(head, "/manifests")) return take(RouteKind::Manifest, head.size() - 10, tail);
  if (endsWith(head, "/referrers")) return take(RouteKind::Referrers, head.size() - 10, tail);
  return noRoute(path);
}

// /v2/... on a repository's own port: the key is the port's, the whole
// name is the image (`docker pull alpine` through a mirror asks for
// /v2/library/alpine/manifests/latest).
Result<Route> matchPortRoute(std::string_view rest, Route route, const std::string& path) {
  route.base = "/v2";
  if (rest == "_catalog") {
    route.kind = RouteKind::RepoCatalog;
    return route;
  }
  return matchImageRoute(rest, std::move(route), path);
}

}  // namespace

std::string Route::clientName() const {
  return base.starts_with("/v2/") ? repo_key + "/" + image : image;
}

std::string subdomainRepository(std::string_view host, std::string_view base) {
  if (base.empty() || host.empty() || host.front() == '[') return {};  // no subdomains; an IPv6 literal
  if (auto colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // a fully qualified name
  if (host.size() < base.size() + 2) return {};
  std::string lowered;
  for (char ch : host) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string_view h = lowered;
  std::string_view suffix = h.substr(h.size() - base.size());
  if (h[h.size() - base.size() - 1] != '.') return {};
  for (std::size_t i = 0; i < base.size(); ++i)
    if (suffix[i] != std::tolower(static_cast<unsigned char>(base[i]))) return {};
  std::string label(h.substr(0, h.size() - base.size() - 1));
  if (label.find('.') != std::string::npos || !repoKeyProblem(label).empty()) return {};
  return label;
}

Result<Route> matchRoute(const std::string& path, const std::string& port_repository) {
  std::string_view p = path;
  Route route;
  route.family = "/v2";
  if (p == "/v2" || p == "/v2/") return route;
  if (p == "/v2/token" || p == "/v2/auth") {
    route.kind = p == "/v2/token" ? RouteKind::Token : RouteKind::AuthConfig;
    route.repo_key = port_repository;  // a token's scopes name images of the port's repository
    return route;
  }
  if (!port_repository.empty() && p.starts_with("/v2/")) {
    route.repo_key = port_repository;
    return matchPortRoute(p.substr(4), std::move(route), path);
  }
  if (p.starts_with("/api/security/") || p.starts_with("/artifactory/api/security/")) {
    route.kind = RouteKind::Security;
    route.tail = std::string(p.substr(p.find("/api/security/") + 14));
    return route;
  }
  if (p == "/api/system/storage/gc" || p == "/artifactory/api/system/storage/gc") {
    route.kind = RouteKind::StorageGc;
    return route;
  }
  if (std::string_view rest = p.starts_with("/artifactory/") ? p.substr(12) : p;
      rest == "/api/repositories" || rest.starts_with("/api/repositories/")) {
    route.kind = RouteKind::Repositories;
    rest.remove_prefix(std::min(rest.size(), std::string_view("/api/repositories/").size()));
    if (rest.find('/') != std::string_view::npos) return noRoute(path);
    route.tail = std::string(rest);
    return route;
  }
  if (p == "/api/system/reload" || p == "/artifactory/api/system/reload") {
    route.kind = RouteKind::SystemReload;
    return route;
  }
  if (p == "/v2/_catalog") {
    route.kind = RouteKind::Catalog;
    return route;
  }
  if (p.starts_with("/v2/")) {
    std::string_view rest = p.substr(4);
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) return noRoute(path);
    route.repo_key = std::string(rest.substr(0, slash));
    route.base = "/v2/" + route.repo_key;
    return matchImageRoute(rest.substr(slash + 1), std::move(route), path);
  }
  if (p.starts_with("/artifactory/")) {
    p.remove_prefix(12);
    // Any other first segment than "api" is a repository key: Artifactory's
    // paths in a repository's tree. (A repository keyed "api" cannot be addressed so.)
    if (p != "/api" && !p.starts_with("/api/")) {
      std::string_view rest = p.substr(1);
      auto slash = rest.find('/');
      route.kind = RouteKind::RepoPath;
      route.repo_key = std::string(rest.substr(0, slash));
      if (route.repo_key.empty()) return noRoute(path);
      route.tail = slash == std::string_view::npos ? std::string() : std::string(rest.substr(slash + 1));
      route.base = "/artifactory/" + route.repo_key;
      return route;
    }
  }
  if (!p.starts_with("/api/docker/")) return noRoute(path);
  std::string_view rest = p.substr(12);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return noRoute(path);
  route.repo_key = std::string(rest.substr(0, slash));
  route.base = "/api/docker/" + route.repo_key + "/v2";
  if (path.starts_with("/artifactory/")) route.base = "/artifactory" + route.base;
  route.family = route.base;
  rest = rest.substr(slash + 1);
  if (rest == "v2" || rest == "v2/") return route;
  if (rest == "v2/token" || rest == "v2/auth") {
    route.kind = rest == "v2/token" ? RouteKind::Token : RouteKind::AuthConfig;
    return route;
  }
  if (!rest.starts_with("v2/")) return noRoute(path);
  rest.remove_prefix(3);
  // Not an image called "promote": an image's routes always end in a kind marker.
  if (rest == "promote") {
    route.kind = RouteKind::Promote;
    return route;
  }
  if (rest == "_catalog") {
    route.kind = RouteKind::RepoCatalog;
    return route;
  }
  return matchImageRoute(rest, std::move(route), path);
}

}  // namespace berth::api
