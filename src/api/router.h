// Maps a request path to a route, for all three URL families:
//   /v2/<repoKey>/<image>/...                       (repoKey = first name component)
//   /artifactory/api/docker/<repoKey>/v2/<image>/...
//   /api/docker/<repoKey>/v2/<image>/...
// Artifactory's REST routes of the image lifecycle (docs/lifecycle.md):
//   [/artifactory]/api/docker/<repoKey>/v2/promote  (POST)
//   /artifactory/<repoKey>/<path>                   (DELETE: a tag or an image)
// and, on a repository's own port (config `port:`, a registry mirror) or
// subdomain (config server.subdomain_base):
//   /v2/<image>/...                                 (repoKey = the port's or subdomain's repository)
// Pure function; the grammar of names and references is checked here too.
#pragma once

#include <string>
#include <string_view>

#include "berth/core/error.h"

namespace berth::api {

enum class RouteKind {
  Base, Catalog, RepoCatalog, Blob, UploadStart, Upload, Manifest, Tags, Referrers,
  Token,       // /v2/token, <family>/v2/token: Docker token auth
  AuthConfig,  // /v2/auth, <family>/v2/auth: a docker config.json snippet
  Security,    // /api/security/<tail...>: users, groups, permissions, access tokens
  Promote,     // [/artifactory]/api/docker/<repoKey>/v2/promote: the source is repo_key
  RepoPath,    // /artifactory/<repoKey>/<tail...>: a path in the repository's tree (image[/tag])
  StorageGc,   // [/artifactory]/api/system/storage/gc: garbage collection (admin)
  SystemReload,  // [/artifactory]/api/system/reload: reload the config file (admin)
  Repositories,  // [/artifactory]/api/repositories[/<key>]: repository management; the key is in tail
};

struct Route {
  RouteKind kind = RouteKind::Base;
  std::string repo_key;  // empty for Base and Catalog of the /v2 family
  std::string image;     // image name inside the repository
  std::string tail;      // digest, reference, upload id, or RepoPath's path (unparsed)
  // URL prefix of this repository in this family: "/v2/<key>", "/api/docker/<key>/v2",
  // or "/v2" on the repository's own port.
  std::string base;
  std::string family;    // "/v2" or "/api/docker/<key>/v2" (with "/artifactory" when used): where /token lives

  std::string imageUrl() const { return base + "/" + image; }
  // The name clients use in this family ("<key>/<image>" under /v2 on the
  // main port, "<image>" on a repository's port and under the Artifactory routes).
  std::string clientName() const;
};

// NAME_INVALID for a malformed name, NAME_UNKNOWN-free: repository existence
// is checked by the caller. An unknown path shape is NAME_UNKNOWN (404 body).
// `port_repository` is the key of the repository whose port the request came
// in on (empty on the main listener): there the whole name after /v2/ is the
// image, /v2/_catalog lists that repository and /v2/token grants names in it.
// /v2/ and the other families answer as on the main listener.
Result<Route> matchRoute(const std::string& path, const std::string& port_repository = {});

// The repository a Host header names under `base` (server.subdomain_base):
// "docker-local.registry.example.com[:port]" under "registry.example.com" is
// "docker-local". Empty when the host is not one label under base (base
// itself, another domain, deeper names, an IP address) or the label is no
// valid repository key. DNS names are
// case-insensitive: the label comes back in lower case.
std::string subdomainRepository(std::string_view host, std::string_view base);

}  // namespace berth::api
