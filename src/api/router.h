// Maps a request path to a route, for all three URL families:
//   /v2/<repoKey>/<image>/...                       (repoKey = first name component)
//   /artifactory/api/docker/<repoKey>/v2/<image>/...
//   /api/docker/<repoKey>/v2/<image>/...
// Pure function; the grammar of names and references is checked here too.
#pragma once

#include <string>

#include "berth/core/error.h"

namespace berth::api {

enum class RouteKind {
  Base, Catalog, RepoCatalog, Blob, UploadStart, Upload, Manifest, Tags, Referrers,
  Token,       // /v2/token, <family>/v2/token: Docker token auth
  AuthConfig,  // /v2/auth, <family>/v2/auth: a docker config.json snippet
  Security,    // /api/security/<tail...>: users, groups, permissions, access tokens
};

struct Route {
  RouteKind kind = RouteKind::Base;
  std::string repo_key;  // empty for Base and Catalog of the /v2 family
  std::string image;     // image name inside the repository
  std::string tail;      // digest, reference or upload id (unparsed)
  std::string base;      // URL prefix of this repository in this family: "/v2/<key>" or "/api/docker/<key>/v2"
  std::string family;    // "/v2" or "/api/docker/<key>/v2" (with "/artifactory" when used): where /token lives

  std::string imageUrl() const { return base + "/" + image; }
  // The name clients use in this family ("<key>/<image>" under /v2).
  std::string clientName() const;
};

// NAME_INVALID for a malformed name, NAME_UNKNOWN-free: repository existence
// is checked by the caller. An unknown path shape is UNSUPPORTED (404 body).
Result<Route> matchRoute(const std::string& path);

}  // namespace berth::api
