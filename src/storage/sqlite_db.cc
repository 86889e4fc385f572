#include "storage/sqlite_db.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <stdexcept>

namespace berth::storage {

Stmt::~Stmt() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

Stmt& Stmt::bind(int idx, const std::string& v) {
  sqlite3_bind_text(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind(int idx, int64_t v) {
  sqlite3_bind_int64(s_, idx, v);
  return *this;
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(db_.lastError("sqlite step"));
}

Status Stmt::run() {
  while (true) {
    auto r = step();
    if (!r) return tl::unexpected(r.error());
    if (!*r) return {};
  }
}

std::string Stmt::text(int col) const {
  auto p = sqlite3_column_text(s_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
           : std::string();
}

int64_t Stmt::integer(int col) const { return sqlite3_column_int64(s_, col); }

SqliteDb::SqliteDb(const std::string& path, SyncMode sync) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK)
    throw std::runtime_error("cannot open metadata database " + path + ": " + sqlite3_errmsg(db_));
  // Owner-only: the database holds password hashes. Set by path, before the
  // WAL's -wal and -shm files exist (SQLite gives them the database's mode).
  // Never by opening the file ourselves: closing any descriptor of it drops
  // every POSIX lock this process holds on it (SQLite's included), and
  // another process would then take itself for the last connection and
  // checkpoint and delete the WAL under this one's feet: writes lost.
  ::chmod(path.c_str(), 0600);
  sqlite3_busy_timeout(db_, 5000);
  // WAL: readers never block the writer. synchronous is per connection.
  const char* synchronous = sync == SyncMode::Full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  for (const char* pragma : {"PRAGMA journal_mode=WAL", synchronous, "PRAGMA foreign_keys=ON"})
    if (auto st = exec(pragma); !st) throw std::runtime_error(st.error().message);
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

Status SqliteDb::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown";
    sqlite3_free(err);
    return tl::unexpected(Error{ErrorCode::Unknown, "metadata store: " + msg, {}, true});
  }
  return {};
}

Stmt SqliteDb::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::logic_error("bad SQL: " + sql + ": " + sqlite3_errmsg(db_));  // a programming error
    it = cache_.emplace(sql, s).first;
  }
  return Stmt(*this, it->second);
}

int SqliteDb::changes() const { return sqlite3_changes(db_); }

Error SqliteDb::lastError(const char* what) const {
  int rc = sqlite3_errcode(db_);
  auto code = (rc == SQLITE_FULL || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? ErrorCode::Unavailable : ErrorCode::Unknown;
  return Error{code, std::string(what) + ": " + sqlite3_errmsg(db_), {}, true};
}

Transaction::Transaction(SqliteDb& db) : db_(db) {}
Transaction::~Transaction() {
  if (open_) (void)db_.exec("ROLLBACK");
}
Status Transaction::begin() {
  auto st = db_.exec("BEGIN IMMEDIATE");
  open_ = st.has_value();
  return st;
}
Status Transaction::commit() {
  auto st = db_.exec("COMMIT");
  if (st) open_ = false;
  return st;
}

}  // namespace berth::storage
