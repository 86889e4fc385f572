#include "storage/repository_definitions.h"

#include <stdexcept>

namespace berth::storage {

RepositoryDefinitions::RepositoryDefinitions(const std::string& db_path) : db_(db_path) {
  // `position` keeps the creation order: the resolution order of the
  // repositories list, and of the API's listing, must not depend on key order.
  auto st = db_.exec(
      "CREATE TABLE IF NOT EXISTS repository_definitions(key TEXT PRIMARY KEY, entry TEXT NOT NULL, "
      "position INTEGER NOT NULL) WITHOUT ROWID");
  if (!st) throw std::runtime_error(st.error().message);
}

Result<std::vector<RepositoryDefinition>> RepositoryDefinitions::all() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT key, entry FROM repository_definitions ORDER BY position, key");
  std::vector<RepositoryDefinition> out;
  while (true) {
    auto row = s.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    out.push_back({s.text(0), s.text(1)});
  }
  return out;
}

Status RepositoryDefinitions::put(const std::string& key, const std::string& entry) {
  std::lock_guard lock(mu_);
  return db_
      .prepare(
          "INSERT INTO repository_definitions(key, entry, position) "
          "VALUES(?1, ?2, (SELECT COALESCE(MAX(position), 0) + 1 FROM repository_definitions)) "
          "ON CONFLICT(key) DO UPDATE SET entry=excluded.entry")
      .bind(1, key)
      .bind(2, entry)
      .run();
}

Status RepositoryDefinitions::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  return db_.prepare("DELETE FROM repository_definitions WHERE key=?1").bind(1, key).run();
}

}  // namespace berth::storage
