// A read-only copy of the metadata store's content rows (blob links,
// manifests, their references, tags, upload sessions, the API's repository
// definitions), read in one SQLite
// read transaction, for `berth fsck` (src/ops/fsck.h).
//
// Read-only in every sense: the database is opened `mode=ro` with
// `query_only`, and never as a writer, so it can be read beside a running
// daemon. Opening a WAL database read-only makes SQLite create its -wal and
// -shm files when they are missing (and leave them behind); when no -wal
// file exists (no connection has the database open) the file is therefore
// opened `immutable=1`, which touches nothing, and the read is retaken
// normally if a writer appeared meanwhile (the file or its -wal changed).
//
// Thread safety: a free function; each call has its own connection.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "berth/core/error.h"

namespace berth::storage {

struct LinkRow {
  std::string repo, name, digest;  // digest as "sha256:<hex>"
  uint64_t size = 0;
};

struct ManifestRow {
  std::string repo, name, digest, media_type;
  uint64_t size = 0;
};

struct RefRow {
  std::string repo, name, parent, child, kind;  // kind: "blob" or "manifest"
};

struct TagRow {
  std::string repo, name, tag, digest;
};

struct MetadataSnapshot {
  std::vector<LinkRow> links;
  std::vector<ManifestRow> manifests;
  std::vector<RefRow> refs;
  std::vector<TagRow> tags;
  std::set<std::string> upload_ids;  // uuids of open upload sessions
  // The repositories created through the API (table repository_definitions):
  // key -> its entry, a JSON object with the config file's keys.
  std::map<std::string, std::string> api_repositories;
  bool immutable = false;            // read with immutable=1 (no connection had the database open)
};

// Reads every row of the tables above, each table ordered by its key.
// Errors: Unavailable when the file is missing or cannot be opened or read
// (the message names the file and SQLite's reason), Unknown when it is not a
// Berth metadata database (a table is missing).
Result<MetadataSnapshot> readMetadataSnapshot(const std::string& db_path);

}  // namespace berth::storage
