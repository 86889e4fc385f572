// The repositories created through the repository management API
// (/api/repositories, docs/api.md), kept in the metadata database (table
// repository_definitions) so that they survive a restart and travel with a
// backup of the database. Each is one entry of the config file's
// `repositories` list, as a JSON object with the file's keys
// (config/repository_json.h), read back with the config file's own parser.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "berth/core/error.h"
#include "storage/sqlite_db.h"

namespace berth::storage {

struct RepositoryDefinition {
  std::string key;
  std::string entry;  // JSON object: a `repositories` entry
};

class RepositoryDefinitions {
 public:
  // Throws on failure (startup only).
  explicit RepositoryDefinitions(const std::string& db_path);
  // In the order they were first created (an update keeps the place).
  Result<std::vector<RepositoryDefinition>> all();
  Status put(const std::string& key, const std::string& entry);
  Status remove(const std::string& key);

 private:
  std::mutex mu_;
  SqliteDb db_;
};

}  // namespace berth::storage
