// A thin RAII wrapper over one SQLite connection with cached prepared
// statements. Not thread-safe: the owner serializes access.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "berth/core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace berth::storage {

class SqliteDb;

// When a commit returns (WAL mode either way):
//   Full:   the WAL is fsynced at every commit: what was acknowledged survives
//           a power loss.
//   Normal: the WAL is fsynced only at checkpoints: a process crash loses
//           nothing, a power loss may lose the last commits (never corrupts).
enum class SyncMode { Full, Normal };

// A bound, resettable statement borrowed from the cache.
class Stmt {
 public:
  Stmt(SqliteDb& db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int idx, const std::string& v);
  Stmt& bind(int idx, int64_t v);
  // Steps once: true when a row is available.
  Result<bool> step();
  // Runs to completion (for writes).
  Status run();
  std::string text(int col) const;
  int64_t integer(int col) const;

 private:
  SqliteDb& db_;
  sqlite3_stmt* s_;
};

class SqliteDb {
 public:
  // Opens (creating) the database in WAL mode. Throws on failure (startup).
  explicit SqliteDb(const std::string& path, SyncMode sync = SyncMode::Full);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  Status exec(const std::string& sql);
  Stmt prepare(const std::string& sql);  // cached by SQL text
  int changes() const;
  Error lastError(const char* what) const;

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> cache_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back when not committed.
class Transaction {
 public:
  explicit Transaction(SqliteDb& db);
  ~Transaction();
  Status begin();
  Status commit();

 private:
  SqliteDb& db_;
  bool open_ = false;
};

}  // namespace berth::storage
