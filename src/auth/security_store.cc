#include "auth/security_store.h"

#include <stdexcept>

namespace berth::auth {

SecurityStore::SecurityStore(const std::string& db_path) : db_(db_path) {
  auto st = db_.exec(
      "CREATE TABLE IF NOT EXISTS security_objects(kind TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL, "
      "PRIMARY KEY(kind, name)) WITHOUT ROWID");
  if (!st) throw std::runtime_error(st.error().message);
}

Status SecurityStore::put(const std::string& kind, const std::string& name, const std::string& doc) {
  std::lock_guard lock(mu_);
  return db_.prepare("INSERT OR REPLACE INTO security_objects(kind, name, doc) VALUES(?1, ?2, ?3)")
      .bind(1, kind).bind(2, name).bind(3, doc).run();
}

Status SecurityStore::remove(const std::string& kind, const std::string& name) {
  std::lock_guard lock(mu_);
  return db_.prepare("DELETE FROM security_objects WHERE kind=?1 AND name=?2").bind(1, kind).bind(2, name).run();
}

Result<std::vector<std::pair<std::string, std::string>>> SecurityStore::all(const std::string& kind) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT name, doc FROM security_objects WHERE kind=?1 ORDER BY name");
  s.bind(1, kind);
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    auto row = s.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    out.emplace_back(s.text(0), s.text(1));
  }
  return out;
}

}  // namespace berth::auth
