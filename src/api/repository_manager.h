// What the repository management API (/api/repositories, docs/api.md) asks
// of the server: the repositories that serve now, and changes to those
// created through the API. The server (server/repository_admin.h) applies a
// change as a reload does, and keeps what it created across restarts.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "berth/config.h"
#include "berth/core/error.h"

namespace berth::api {

struct RepositoryListing {
  config::Repository repository;
  bool managed = false;  // created through the API (else: the config file's)
};

struct RepositoryChange {
  std::vector<std::string> needs_restart;  // changed settings that wait for a restart (a port)
  std::vector<std::string> ignored;        // request fields Berth has no use for
};

class RepositoryManager {
 public:
  virtual ~RepositoryManager() = default;
  // In resolution-list order: the config file's, then the API's.
  virtual std::vector<RepositoryListing> list() = 0;
  // Errors: BAD_REQUEST (the key exists, the body does not validate: the
  // detail lists each problem), NOT_FOUND (update and remove of an unknown
  // key), UNKNOWN (the store failed).
  virtual Result<RepositoryChange> create(const std::string& key, const nlohmann::json& body) = 0;
  // The fields given replace the repository's (Artifactory's POST).
  virtual Result<RepositoryChange> update(const std::string& key, const nlohmann::json& body) = 0;
  // Removes the repository and its content: its tags, manifests and links;
  // blobs nothing else references are left to garbage collection.
  virtual Result<RepositoryChange> remove(const std::string& key) = 0;
};

}  // namespace berth::api
