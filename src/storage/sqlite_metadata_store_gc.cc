// The metadata store's side of garbage collection (docs/design.md, "Garbage
// collection"): blob records, the candidate scan and the re-check that
// forgets a blob (and its stale links) only while no manifest references it
// and nothing installed or linked it within the grace period.
#include <ctime>

#include "storage/sqlite_metadata_store.h"

namespace berth::storage {
namespace {

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

// ?1 = the digest text. Every index it needs exists (manifests_digest,
// manifest_refs_child). A link is not a reference here: every link touches
// the blob's record, so a link keeps its blob only while the record is
// younger than the cutoff, which each statement checks beside this.
#define BERTH_UNREFERENCED(d)                                      \
  "NOT EXISTS(SELECT 1 FROM manifests m WHERE m.digest=" d ") AND " \
  "NOT EXISTS(SELECT 1 FROM manifest_refs r WHERE r.child=" d ")"

constexpr const char* kScan = "SELECT b.digest, b.size, b.touched <= ?2 AND " BERTH_UNREFERENCED("b.digest")
                              " FROM blobs b WHERE b.digest > ?1 ORDER BY b.digest LIMIT ?3";
constexpr const char* kForget = "DELETE FROM blobs WHERE digest=?1 AND touched <= ?2 AND " BERTH_UNREFERENCED("?1");
constexpr const char* kReferenced = "SELECT NOT (" BERTH_UNREFERENCED("?1") ")";
// The stale links of a blob forgotten, and the images they were in.
constexpr const char* kLinkedBy = "SELECT DISTINCT repo, name FROM blob_links WHERE digest=?1";
constexpr const char* kUnlinkAll = "DELETE FROM blob_links WHERE digest=?1";

#undef BERTH_UNREFERENCED

}  // namespace

Status SqliteMetadataStore::touchBlob(const std::string& digest, uint64_t size) {
  return db_
      .prepare("INSERT INTO blobs(digest, size, touched) VALUES(?1,?2,?3) "
               "ON CONFLICT(digest) DO UPDATE SET touched=excluded.touched")
      .bind(1, digest).bind(2, static_cast<int64_t>(size)).bind(3, now()).run();
}

// The scans below read on a read connection, not the writer: a collection
// looping beside a push storm must not make every commit queue behind its
// pages. What they find is only a candidate: forgetUnreferencedBlobs checks
// each again in the writer's transaction, and recordBlobs ignores a record
// made meanwhile.
Result<GcScan> SqliteMetadataStore::scanGcCandidates(int64_t cutoff, const std::string& after, std::size_t limit) {
  auto conn = reads_->acquire();
  auto s = conn.db().prepare(kScan);
  s.bind(1, after).bind(2, cutoff).bind(3, static_cast<int64_t>(limit));
  GcScan out;
  std::size_t rows = 0;
  while (true) {
    auto row = s.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    ++rows;
    out.last = s.text(0);
    if (s.integer(2) != 0 && out.last.starts_with("sha256:"))
      out.candidates.emplace_back(Digest::fromHex(out.last.substr(7)), static_cast<uint64_t>(s.integer(1)));
  }
  if (rows < limit) out.last.clear();
  return out;
}

Result<std::vector<Digest>> SqliteMetadataStore::forgetUnreferencedBlobs(const std::vector<Digest>& digests,
                                                                         int64_t cutoff) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto st = tx.begin(); !st) return tl::unexpected(st.error());
  std::vector<Digest> forgotten;
  for (const auto& d : digests) {
    if (auto st = db_.prepare(kForget).bind(1, d.str()).bind(2, cutoff).run(); !st) return tl::unexpected(st.error());
    if (db_.changes() == 0) continue;
    forgotten.push_back(d);
    // Its links go with it (I1: a link names a blob whose file exists). Only
    // these: a blob that stays keeps every link, so a client told it exists
    // (HEAD) can still push a manifest naming it. A manifest PUT racing this
    // re-checks its links in its own transaction: MANIFEST_BLOB_UNKNOWN.
    std::vector<std::pair<std::string, std::string>> images;
    auto s = db_.prepare(kLinkedBy);
    s.bind(1, d.str());
    while (true) {
      auto row = s.step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      images.emplace_back(s.text(0), s.text(1));
    }
    if (auto st = db_.prepare(kUnlinkAll).bind(1, d.str()).run(); !st) return tl::unexpected(st.error());
    for (const auto& [repo, name] : images)
      if (auto st = forgetImageIfEmpty(repo, name); !st) return tl::unexpected(st.error());
  }
  // Durable before any file goes: a record that came back after a power loss
  // would let a writer take a missing file for present.
  if (auto c = tx.commit(); !c) return tl::unexpected(c.error());
  return forgotten;
}

Result<std::vector<std::string>> SqliteMetadataStore::unrecordedBlobs(const std::vector<std::string>& hexes) {
  auto conn = reads_->acquire();
  std::vector<std::string> out;
  for (const auto& hex : hexes) {
    auto s = conn.db().prepare("SELECT 1 FROM blobs WHERE digest=?1");
    s.bind(1, "sha256:" + hex);
    auto row = s.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) out.push_back(hex);
  }
  return out;
}

Status SqliteMetadataStore::recordBlobs(const std::vector<std::pair<Digest, uint64_t>>& blobs) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);  // one commit (one fsync) for a whole shard of an old store
  if (auto st = tx.begin(); !st) return st;
  for (const auto& [d, size] : blobs)
    if (auto st = db_.prepare("INSERT OR IGNORE INTO blobs(digest, size, touched) VALUES(?1,?2,?3)")
                      .bind(1, d.str()).bind(2, static_cast<int64_t>(size)).bind(3, now()).run();
        !st)
      return st;
  return tx.commit();
}

Result<bool> SqliteMetadataStore::blobReferenced(const Digest& d) {
  auto conn = reads_->acquire();
  auto s = conn.db().prepare(kReferenced);
  s.bind(1, d.str());
  auto row = s.step();
  if (!row) return tl::unexpected(row.error());
  return *row && s.integer(0) != 0;
}

}  // namespace berth::storage
