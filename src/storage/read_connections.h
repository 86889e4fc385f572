// Read-only statements on connections of their own. SQLite in WAL mode lets
// readers run beside the writer and beside each other, each on its own
// connection: a manifest GET or blob HEAD then never queues behind another
// request's read, nor behind a commit's fsync, on the one writer connection.
// A read started after a commit returned sees that commit (a new read
// transaction takes the newest snapshot), so read-your-writes holds.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/sqlite_db.h"

namespace berth::storage {

class ReadConnections {
 public:
  // Opens `count` connections on the database at path (which must exist
  // with its schema). Throws on failure (startup).
  ReadConnections(const std::string& path, std::size_t count);

  // One connection, held until the lease goes: a free one if any, else the
  // caller waits for one in turn.
  class Lease {
   public:
    SqliteDb& db() { return *db_; }

   private:
    friend class ReadConnections;
    Lease(std::unique_lock<std::mutex> lock, SqliteDb* db) : lock_(std::move(lock)), db_(db) {}
    std::unique_lock<std::mutex> lock_;
    SqliteDb* db_;
  };
  Lease acquire();

  // A pool for a machine of `cores` cores: two per core, at least 2, at most
  // 16 (each connection keeps its own page cache and prepared statements).
  static std::size_t sizeFor(unsigned cores);

 private:
  struct Slot {
    std::mutex mu;
    std::unique_ptr<SqliteDb> db;
  };
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace berth::storage
