// Persists the security model (users, groups, permissions, access tokens) as
// JSON documents in the metadata database, table security_objects.
// Thread safety: all methods may be called concurrently.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "berth/core/error.h"
#include "storage/sqlite_db.h"

namespace berth::auth {

class SecurityStore {
 public:
  // Throws on failure (startup only).
  explicit SecurityStore(const std::string& db_path);
  Status put(const std::string& kind, const std::string& name, const std::string& doc);
  Status remove(const std::string& kind, const std::string& name);
  Result<std::vector<std::pair<std::string, std::string>>> all(const std::string& kind);

 private:
  std::mutex mu_;
  storage::SqliteDb db_;
};

}  // namespace berth::auth
