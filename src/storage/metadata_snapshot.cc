#include "storage/metadata_snapshot.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <functional>

namespace berth::storage {
namespace {

tl::unexpected<Error> unavailable(const std::string& message) {
  return tl::unexpected(Error{ErrorCode::Unavailable, message, {}, true});
}

// "file:" URI of a path: everything but unreserved characters and '/' is
// percent-encoded, so that '?', '#' and '%' in a directory name stay part of it.
std::string fileUri(const std::string& path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out = "file:";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

// What tells whether a writer touched the database while it was read immutably.
struct FileState {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  bool operator==(const FileState& o) const {
    return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

FileState stateOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

class Connection {
 public:
  ~Connection() {
    if (db_) sqlite3_close(db_);
  }
  Status open(const std::string& path, bool immutable) {
    std::string uri = fileUri(path) + "?mode=ro" + (immutable ? "&immutable=1" : "");
    int rc = sqlite3_open_v2(uri.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return unavailable("cannot open " + path + " read-only: " + message());
    sqlite3_busy_timeout(db_, 10000);
    return exec("PRAGMA query_only=1");
  }
  Status exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      return unavailable(std::string("metadata database: ") + sql + ": " + message());
    return {};
  }
  // Runs a query, calling row() for each result row.
  Status each(const char* sql, const std::function<void(sqlite3_stmt*)>& row) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) {
      std::string why = message();
      if (why.find("no such") != std::string::npos)
        return tl::unexpected(Error{ErrorCode::Unknown, "not a Berth metadata database: " + why, {}, true});
      return unavailable("metadata database: " + why);
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) row(s);
    std::string why = rc == SQLITE_DONE ? "" : message();
    sqlite3_finalize(s);
    if (!why.empty()) return unavailable(std::string("metadata database: reading: ") + why);
    return {};
  }

 private:
  std::string message() const { return db_ ? sqlite3_errmsg(db_) : "out of memory"; }
  sqlite3* db_ = nullptr;
};

std::string text(sqlite3_stmt* s, int col) {
  auto p = sqlite3_column_text(s, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s, col)))
           : std::string();
}
uint64_t number(sqlite3_stmt* s, int col) { return static_cast<uint64_t>(sqlite3_column_int64(s, col)); }

Result<MetadataSnapshot> readWith(Connection& c) {
  MetadataSnapshot snap;
  // One read transaction: the tables agree with one another.
  if (auto st = c.exec("BEGIN"); !st) return tl::unexpected(st.error());
  Status st = c.each("SELECT repo, name, digest, size FROM blob_links ORDER BY repo, name, digest", [&](sqlite3_stmt* s) {
    snap.links.push_back({text(s, 0), text(s, 1), text(s, 2), number(s, 3)});
  });
  if (st)
    st = c.each("SELECT repo, name, digest, media_type, size FROM manifests ORDER BY repo, name, digest",
                [&](sqlite3_stmt* s) {
                  snap.manifests.push_back({text(s, 0), text(s, 1), text(s, 2), text(s, 3), number(s, 4)});
                });
  if (st)
    st = c.each("SELECT repo, name, parent, child, kind FROM manifest_refs ORDER BY repo, name, parent, child",
                [&](sqlite3_stmt* s) {
                  snap.refs.push_back({text(s, 0), text(s, 1), text(s, 2), text(s, 3), text(s, 4)});
                });
  if (st)
    st = c.each("SELECT repo, name, tag, digest FROM tags ORDER BY repo, name, tag", [&](sqlite3_stmt* s) {
      snap.tags.push_back({text(s, 0), text(s, 1), text(s, 2), text(s, 3)});
    });
  if (st) st = c.each("SELECT uuid FROM uploads", [&](sqlite3_stmt* s) { snap.upload_ids.insert(text(s, 0)); });
  // A database no daemon of the repository API has opened yet has no such table.
  bool definitions = false;
  if (st)
    st = c.each("SELECT 1 FROM sqlite_master WHERE type='table' AND name='repository_definitions'",
                [&](sqlite3_stmt*) { definitions = true; });
  if (st && definitions)
    st = c.each("SELECT key, entry FROM repository_definitions",
                [&](sqlite3_stmt* s) { snap.api_repositories.emplace(text(s, 0), text(s, 1)); });
  if (!st) return tl::unexpected(st.error());
  if (auto end = c.exec("COMMIT"); !end) return tl::unexpected(end.error());
  return snap;
}

}  // namespace

Result<MetadataSnapshot> readMetadataSnapshot(const std::string& db_path) {
  const std::string wal = db_path + "-wal";
  FileState before = stateOf(db_path);
  if (!before.exists) {
    int err = errno;
    return unavailable("cannot open " + db_path + ": " + std::strerror(err));
  }
  if (!stateOf(wal).exists) {
    // Nobody has it open: read it without creating -wal and -shm. Good only
    // if no writer appeared meanwhile; otherwise read it as a reader of a live
    // database below (the -wal file exists then).
    Connection c;
    Result<MetadataSnapshot> snap = c.open(db_path, true).and_then([&] { return readWith(c); });
    if (stateOf(db_path) == before && !stateOf(wal).exists) {
      if (snap) snap->immutable = true;
      return snap;
    }
  }
  Connection c;
  if (auto st = c.open(db_path, false); !st) return tl::unexpected(st.error());
  return readWith(c);
}

}  // namespace berth::storage
