#include "storage/sqlite_metadata_store.h"

#include <ctime>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

namespace berth::storage {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS images(
  path TEXT PRIMARY KEY, repo TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS images_repo ON images(repo, path);
CREATE TABLE IF NOT EXISTS blob_links(
  repo TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, created INTEGER NOT NULL,
  PRIMARY KEY(repo, name, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blob_links_digest ON blob_links(digest);
CREATE TABLE IF NOT EXISTS manifests(
  repo TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,
  subject TEXT NOT NULL, artifact_type TEXT NOT NULL, annotations TEXT NOT NULL, created INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(repo, name, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, name, subject) WHERE subject <> '';
CREATE TABLE IF NOT EXISTS manifest_refs(
  repo TEXT NOT NULL, name TEXT NOT NULL, parent TEXT NOT NULL, child TEXT NOT NULL, kind TEXT NOT NULL,
  PRIMARY KEY(repo, name, parent, child)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_refs_child ON manifest_refs(child);
CREATE TABLE IF NOT EXISTS tags(
  repo TEXT NOT NULL, name TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, updated INTEGER NOT NULL,
  seq INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(repo, name, tag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_digest ON tags(repo, name, digest);
-- The version of each image's tag list (TagListCache): bumped by every tag
-- row written, whoever writes it; a row is never removed, so a version never
-- comes back. (No OR IGNORE in the bodies: an outer INSERT OR REPLACE would
-- turn it into a REPLACE and reset the version.)
CREATE TABLE IF NOT EXISTS tag_versions(
  repo TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY(repo, name)) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS tags_inserted AFTER INSERT ON tags BEGIN
  INSERT INTO tag_versions SELECT NEW.repo, NEW.name, 0
    WHERE NOT EXISTS(SELECT 1 FROM tag_versions WHERE repo=NEW.repo AND name=NEW.name);
  UPDATE tag_versions SET version=version+1 WHERE repo=NEW.repo AND name=NEW.name;
END;
CREATE TRIGGER IF NOT EXISTS tags_updated AFTER UPDATE ON tags BEGIN
  INSERT INTO tag_versions SELECT OLD.repo, OLD.name, 0
    WHERE NOT EXISTS(SELECT 1 FROM tag_versions WHERE repo=OLD.repo AND name=OLD.name);
  UPDATE tag_versions SET version=version+1 WHERE repo=OLD.repo AND name=OLD.name;
  INSERT INTO tag_versions SELECT NEW.repo, NEW.name, 0
    WHERE NOT EXISTS(SELECT 1 FROM tag_versions WHERE repo=NEW.repo AND name=NEW.name);
  UPDATE tag_versions SET version=version+1 WHERE repo=NEW.repo AND name=NEW.name;
END;
CREATE TRIGGER IF NOT EXISTS tags_deleted AFTER DELETE ON tags BEGIN
  INSERT INTO tag_versions SELECT OLD.repo, OLD.name, 0
    WHERE NOT EXISTS(SELECT 1 FROM tag_versions WHERE repo=OLD.repo AND name=OLD.name);
  UPDATE tag_versions SET version=version+1 WHERE repo=OLD.repo AND name=OLD.name;
END;
CREATE TABLE IF NOT EXISTS uploads(
  uuid TEXT PRIMARY KEY, repo TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
  owner TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs(
  digest TEXT PRIMARY KEY, size INTEGER NOT NULL, touched INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_digest ON manifests(digest);
)sql";

// After the upgrade of older tables (uploads without owner, tags without seq).
constexpr const char* kUpgradedIndexes = R"sql(
CREATE INDEX IF NOT EXISTS uploads_repo ON uploads(repo);
CREATE INDEX IF NOT EXISTS uploads_owner ON uploads(owner);
CREATE INDEX IF NOT EXISTS tags_seq ON tags(seq);
)sql";

// An image with no tag, manifest or blob link left is no longer listed.
constexpr const char* kImageIsEmpty =
    "NOT EXISTS(SELECT 1 FROM tags t WHERE t.repo=images.repo AND t.name=images.name) AND "
    "NOT EXISTS(SELECT 1 FROM manifests m WHERE m.repo=images.repo AND m.name=images.name) AND "
    "NOT EXISTS(SELECT 1 FROM blob_links b WHERE b.repo=images.repo AND b.name=images.name)";

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

template <class T>
tl::unexpected<Error> err(const Result<T>& r) { return tl::unexpected(r.error()); }

ManifestRecord readManifest(Stmt& s) {
  ManifestRecord m;
  m.repo = s.text(0);
  m.name = s.text(1);
  m.digest = Digest::fromHex(s.text(2).substr(7));
  m.media_type = s.text(3);
  m.size = static_cast<uint64_t>(s.integer(4));
  m.subject = s.text(5);
  m.artifact_type = s.text(6);
  m.annotations = s.text(7);
  m.created = s.integer(8);
  return m;
}

constexpr const char* kManifestCols = "repo, name, digest, media_type, size, subject, artifact_type, annotations, created";

}  // namespace

SqliteMetadataStore::SqliteMetadataStore(const std::string& path, SyncMode sync) : db_(path, sync), sync_(sync) {
  auto must = [](const Status& st) {
    if (!st) throw std::runtime_error(st.error().message);
  };
  must(db_.exec(kSchema));
  auto addColumn = [&](const char* table, const char* column, const char* definition) {
    auto has = db_.prepare(std::string("SELECT 1 FROM pragma_table_info('") + table + "') WHERE name='" + column + "'")
                   .step();
    must(has ? Status{} : tl::unexpected(has.error()));
    if (!*has) must(db_.exec(std::string("ALTER TABLE ") + table + " ADD COLUMN " + column + " " + definition));
  };
  addColumn("uploads", "owner", "TEXT NOT NULL DEFAULT ''");
  // Push order of tags (max unique tags); older rows keep 0 and sort by time.
  addColumn("tags", "seq", "INTEGER NOT NULL DEFAULT 0");
  // The last pull of a manifest, for a remote cache's retention
  // (sqlite_metadata_store_retention.cc). A column of `manifests` rather
  // than a table of its own: it lives and dies with its manifest row, so
  // none of the paths that remove manifests (deletes, pruning, promotion's
  // moves, GC) needs to know about it, and a manifest written again
  // (INSERT OR REPLACE: a refetch) starts afresh. Older rows keep 0: their
  // `created` (when they were cached) counts as their last use, so an upgrade
  // evicts nothing cached more recently than the retention period.
  addColumn("manifests", "used", "INTEGER NOT NULL DEFAULT 0");
  must(db_.exec(kUpgradedIndexes));
  // Images emptied before deletes forgot them (older versions never did).
  must(db_.exec(std::string("DELETE FROM images WHERE ") + kImageIsEmpty));
  // After the schema: the readers prepare statements against it.
  reads_ = std::make_unique<ReadConnections>(path, ReadConnections::sizeFor(std::thread::hardware_concurrency()));
}

Status SqliteMetadataStore::ping() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT count(*) FROM sqlite_master");
  auto row = s.step();
  if (!row) return tl::unexpected(row.error());
  return {};
}

Result<int64_t> SqliteMetadataStore::synchronousLevel() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("PRAGMA synchronous");
  auto row = s.step();
  if (!row) return err(row);
  return s.integer(0);
}

Status SqliteMetadataStore::forgetImageIfEmpty(const std::string& repo, const std::string& name) {
  return db_.prepare(std::string("DELETE FROM images WHERE path=?1 AND ") + kImageIsEmpty)
      .bind(1, repo + "/" + name).run();
}

Status SqliteMetadataStore::touchImage(const std::string& repo, const std::string& name) {
  return db_.prepare("INSERT OR IGNORE INTO images(path, repo, name, created) VALUES(?1, ?2, ?3, ?4)")
      .bind(1, repo + "/" + name).bind(2, repo).bind(3, name).bind(4, now()).run();
}

Status SqliteMetadataStore::link(const std::string& uuid, const std::string& repo, const std::string& name,
                                 const Digest& d, uint64_t size) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto st = tx.begin(); !st) return st;
  if (auto st = touchImage(repo, name); !st) return st;
  auto st = db_.prepare("INSERT OR IGNORE INTO blob_links(repo, name, digest, size, created) VALUES(?1,?2,?3,?4,?5)")
                .bind(1, repo).bind(2, name).bind(3, d.str()).bind(4, static_cast<int64_t>(size)).bind(5, now()).run();
  if (!st) return st;
  if (auto s1 = touchBlob(d.str(), size); !s1) return s1;
  if (!uuid.empty())
    if (auto s2 = db_.prepare("DELETE FROM uploads WHERE uuid=?1").bind(1, uuid).run(); !s2) return s2;
  return tx.commit();
}

Status SqliteMetadataStore::linkBlob(const std::string& repo, const std::string& name, const Digest& d, uint64_t size) {
  return link({}, repo, name, d, size);
}

Status SqliteMetadataStore::linkUploadedBlob(const std::string& uuid, const std::string& repo, const std::string& name,
                                             const Digest& d, uint64_t size) {
  return link(uuid, repo, name, d, size);
}

Result<std::optional<uint64_t>> SqliteMetadataStore::linkedBlobSize(const std::string& repo, const std::string& name,
                                                                    const Digest& d) {
  auto conn = reads_->acquire();
  auto s = conn.db().prepare("SELECT size FROM blob_links WHERE repo=?1 AND name=?2 AND digest=?3");
  s.bind(1, repo).bind(2, name).bind(3, d.str());
  auto row = s.step();
  if (!row) return err(row);
  if (!*row) return std::optional<uint64_t>();
  return std::optional<uint64_t>(static_cast<uint64_t>(s.integer(0)));
}

Result<bool> SqliteMetadataStore::deleteAndForget(const std::string& sql, const std::string& repo,
                                                  const std::string& name, const std::string& key) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto st = tx.begin(); !st) return tl::unexpected(st.error());
  if (auto st = db_.prepare(sql).bind(1, repo).bind(2, name).bind(3, key).run(); !st) return tl::unexpected(st.error());
  bool existed = db_.changes() > 0;
  if (existed)
    if (auto st = forgetImageIfEmpty(repo, name); !st) return tl::unexpected(st.error());
  if (auto c = tx.commit(); !c) return tl::unexpected(c.error());
  return existed;
}

Result<bool> SqliteMetadataStore::unlinkBlob(const std::string& repo, const std::string& name, const Digest& d) {
  return deleteAndForget("DELETE FROM blob_links WHERE repo=?1 AND name=?2 AND digest=?3", repo, name, d.str());
}

Result<PutManifestOutcome> SqliteMetadataStore::putManifest(const ManifestWrite& w) {
  const auto& m = w.record;
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto st = tx.begin(); !st) return tl::unexpected(st.error());
  PutManifestOutcome out;
  if (w.require_references) {
    auto missing = missingReference(w);
    if (!missing) return tl::unexpected(missing.error());
    if (!missing->empty()) {
      out.missing = std::move(*missing);
      return out;  // rolled back: nothing written
    }
  }
  if (auto st = touchImage(m.repo, m.name); !st) return tl::unexpected(st.error());
  auto st = db_.prepare(std::string("INSERT OR REPLACE INTO manifests(") + kManifestCols +
                        ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)")
                .bind(1, m.repo).bind(2, m.name).bind(3, m.digest.str()).bind(4, m.media_type)
                .bind(5, static_cast<int64_t>(m.size)).bind(6, m.subject).bind(7, m.artifact_type)
                .bind(8, m.annotations).bind(9, m.created ? m.created : now()).run();
  if (!st) return tl::unexpected(st.error());
  if (auto s1 = touchBlob(m.digest.str(), m.size); !s1) return tl::unexpected(s1.error());
  auto addRef = [&](const Digest& child, const char* kind) {
    return db_.prepare("INSERT OR IGNORE INTO manifest_refs(repo, name, parent, child, kind) VALUES(?1,?2,?3,?4,?5)")
        .bind(1, m.repo).bind(2, m.name).bind(3, m.digest.str()).bind(4, child.str()).bind(5, std::string(kind)).run();
  };
  for (const auto& b : w.blobs)
    if (auto s2 = addRef(b, "blob"); !s2) return tl::unexpected(s2.error());
  for (const auto& c : w.manifests)
    if (auto s2 = addRef(c, "manifest"); !s2) return tl::unexpected(s2.error());
  if (w.tag) {
    if (auto s3 = writeTag(m.repo, m.name, *w.tag, m.digest.str()); !s3) return tl::unexpected(s3.error());
    auto ev = enforceTagLimit(m.repo, m.name, w.limit, {*w.tag});
    if (!ev) return tl::unexpected(ev.error());
    out.evicted = std::move(*ev);
  }
  if (auto c = tx.commit(); !c) return tl::unexpected(c.error());
  return out;
}

Result<std::string> SqliteMetadataStore::missingReference(const ManifestWrite& w) {
  const auto& m = w.record;
  auto absent = [&](const char* sql, const Digest& d) -> Result<bool> {
    auto s = db_.prepare(sql);
    s.bind(1, m.repo).bind(2, m.name).bind(3, d.str());
    auto row = s.step();
    if (!row) return tl::unexpected(row.error());
    return !*row;
  };
  for (const auto& b : w.blobs) {
    auto gone = absent("SELECT 1 FROM blob_links WHERE repo=?1 AND name=?2 AND digest=?3", b);
    if (!gone) return tl::unexpected(gone.error());
    if (*gone) return b.str();
  }
  for (const auto& c : w.manifests) {
    auto gone = absent("SELECT 1 FROM manifests WHERE repo=?1 AND name=?2 AND digest=?3", c);
    if (!gone) return tl::unexpected(gone.error());
    if (*gone) return c.str();
  }
  return std::string();
}

Result<std::optional<ManifestRecord>> SqliteMetadataStore::manifest(const std::string& repo, const std::string& name,
                                                                    const Digest& d) {
  auto conn = reads_->acquire();
  auto s = conn.db().prepare(std::string("SELECT ") + kManifestCols +
                             ", used FROM manifests WHERE repo=?1 AND name=?2 AND digest=?3");
  s.bind(1, repo).bind(2, name).bind(3, d.str());
  auto row = s.step();
  if (!row) return err(row);
  if (!*row) return std::optional<ManifestRecord>();
  auto m = readManifest(s);
  m.used = s.integer(9);
  return std::optional<ManifestRecord>(std::move(m));
}

Result<bool> SqliteMetadataStore::deleteManifest(const std::string& repo, const std::string& name, const Digest& d) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto st = tx.begin(); !st) return tl::unexpected(st.error());
  auto st = db_.prepare("DELETE FROM manifests WHERE repo=?1 AND name=?2 AND digest=?3")
                .bind(1, repo).bind(2, name).bind(3, d.str()).run();
  if (!st) return tl::unexpected(st.error());
  bool existed = db_.changes() > 0;
  for (const char* sql : {"DELETE FROM tags WHERE repo=?1 AND name=?2 AND digest=?3",
                          "DELETE FROM manifest_refs WHERE repo=?1 AND name=?2 AND parent=?3"}) {
    if (auto s2 = db_.prepare(sql).bind(1, repo).bind(2, name).bind(3, d.str()).run(); !s2)
      return tl::unexpected(s2.error());
  }
  if (auto s2 = forgetImageIfEmpty(repo, name); !s2) return tl::unexpected(s2.error());
  if (auto c = tx.commit(); !c) return tl::unexpected(c.error());
  return existed;
}

Result<std::vector<ManifestRecord>> SqliteMetadataStore::referrers(const std::string& repo, const std::string& name,
                                                                   const Digest& subject) {
  auto conn = reads_->acquire();
  auto s = conn.db().prepare(std::string("SELECT ") + kManifestCols +
                       " FROM manifests WHERE repo=?1 AND name=?2 AND subject=?3 ORDER BY digest");
  s.bind(1, repo).bind(2, name).bind(3, subject.str());
  std::vector<ManifestRecord> out;
  while (true) {
    auto row = s.step();
    if (!row) return err(row);
    if (!*row) break;
    out.push_back(readManifest(s));
  }
  return out;
}

Result<std::optional<Digest>> SqliteMetadataStore::resolveTag(const std::string& repo, const std::string& name,
                                                              const std::string& tag) {
  auto conn = reads_->acquire();
  auto s = conn.db().prepare("SELECT digest FROM tags WHERE repo=?1 AND name=?2 AND tag=?3");
  s.bind(1, repo).bind(2, name).bind(3, tag);
  auto row = s.step();
  if (!row) return err(row);
  if (!*row) return std::optional<Digest>();
  return std::optional<Digest>(Digest::fromHex(s.text(0).substr(7)));
}

Result<std::optional<TagRecord>> SqliteMetadataStore::tagRecord(const std::string& repo, const std::string& name,
                                                                const std::string& tag) {
  auto conn = reads_->acquire();
  auto s = conn.db().prepare("SELECT digest, updated FROM tags WHERE repo=?1 AND name=?2 AND tag=?3");
  s.bind(1, repo).bind(2, name).bind(3, tag);
  auto row = s.step();
  if (!row) return err(row);
  if (!*row) return std::optional<TagRecord>();
  return std::optional<TagRecord>(TagRecord{Digest::fromHex(s.text(0).substr(7)), s.integer(1)});
}

Result<bool> SqliteMetadataStore::touchTag(const std::string& repo, const std::string& name, const std::string& tag) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("UPDATE tags SET updated=?4 WHERE repo=?1 AND name=?2 AND tag=?3");
  s.bind(1, repo).bind(2, name).bind(3, tag).bind(4, now());
  auto st = s.run();
  if (!st) return tl::unexpected(st.error());
  return db_.changes() > 0;
}

Result<bool> SqliteMetadataStore::deleteTag(const std::string& repo, const std::string& name, const std::string& tag) {
  return deleteAndForget("DELETE FROM tags WHERE repo=?1 AND name=?2 AND tag=?3", repo, name, tag);
}

Result<Page> SqliteMetadataStore::page(Stmt& s, std::size_t n) {
  Page p;
  while (true) {
    auto row = s.step();
    if (!row) return err(row);
    if (!*row) break;
    if (p.items.size() == n) {
      p.more = true;
      break;
    }
    p.items.push_back(s.text(0));
  }
  return p;
}

Result<Page> SqliteMetadataStore::listTags(const std::string& repo, const std::string& name, const std::string& last,
                                           std::size_t n) {
  std::lock_guard lock(mu_);
  // The version first, then the rows: a write by another process in between
  // leaves a newer list under an older version (a miss next time), never an
  // older list under a newer one.
  auto v = db_.prepare("SELECT version FROM tag_versions WHERE repo=?1 AND name=?2");
  v.bind(1, repo).bind(2, name);
  auto row = v.step();
  if (!row) return err(row);
  const int64_t version = *row ? v.integer(0) : 0;
  const std::string image = repo + "/" + name;
  if (auto cached = tag_cache_.page(image, version, last, n)) return *cached;
  if (last.empty() && !tag_cache_.knownTooBig(image, version)) {
    // The first page reads the whole list (up to the cache's bound) once;
    // the next pages and lists come from memory until a tag changes.
    auto all = db_.prepare("SELECT tag FROM tags WHERE repo=?1 AND name=?2 ORDER BY tag LIMIT ?3");
    all.bind(1, repo).bind(2, name).bind(3, static_cast<int64_t>(kTagCacheMaxTags) + 1);
    auto whole = page(all, kTagCacheMaxTags);
    if (!whole) return whole;
    if (whole->more) {
      tag_cache_.noteTooBig(image, version);
    } else {
      tag_cache_.put(image, version, std::move(whole->items));
      if (auto cached = tag_cache_.page(image, version, last, n)) return *cached;
    }
  }
  auto s = db_.prepare("SELECT tag FROM tags WHERE repo=?1 AND name=?2 AND tag>?3 ORDER BY tag LIMIT ?4");
  s.bind(1, repo).bind(2, name).bind(3, last).bind(4, static_cast<int64_t>(n) + 1);
  return page(s, n);
}

Result<bool> SqliteMetadataStore::imageExists(const std::string& repo, const std::string& name) {
  auto conn = reads_->acquire();
  auto s = conn.db().prepare("SELECT 1 FROM images WHERE path=?1");
  s.bind(1, repo + "/" + name);
  return s.step();
}

Result<Page> SqliteMetadataStore::listImages(const std::string& repo, const std::string& last, std::size_t n) {
  std::lock_guard lock(mu_);
  if (repo.empty()) {
    auto s = db_.prepare("SELECT path FROM images WHERE path>?1 ORDER BY path LIMIT ?2");
    s.bind(1, last).bind(2, static_cast<int64_t>(n) + 1);
    return page(s, n);
  }
  auto s = db_.prepare("SELECT path FROM images WHERE repo=?1 AND path>?2 ORDER BY path LIMIT ?3");
  s.bind(1, repo).bind(2, last).bind(3, static_cast<int64_t>(n) + 1);
  return page(s, n);
}

Status SqliteMetadataStore::createUpload(const UploadRecord& u) {
  std::lock_guard lock(mu_);
  // Not content (metadata_store.h): the session's own commit, at the latest,
  // makes it durable.
  return writeWithoutSync([&] {
    return db_.prepare("INSERT INTO uploads(uuid, repo, name, created, owner) VALUES(?1,?2,?3,?4,?5)")
        .bind(1, u.uuid).bind(2, u.repo).bind(3, u.name).bind(4, u.created ? u.created : now())
        .bind(5, u.owner).run();
  });
}

Status SqliteMetadataStore::writeWithoutSync(const std::function<Status()>& write) {
  if (sync_ != SyncMode::Full) return write();
  if (auto st = db_.exec("PRAGMA synchronous=NORMAL"); !st) return st;
  Status st = write();
  if (auto back = db_.exec("PRAGMA synchronous=FULL"); !back) {
    spdlog::error("metadata database: cannot set synchronous=FULL again ({}); commits may not be durable",
                  back.error().message);
    return back;
  }
  return st;
}

namespace {
constexpr const char* kUploadCols = "uuid, repo, name, created, owner";
UploadRecord readUpload(Stmt& s) { return UploadRecord{s.text(0), s.text(1), s.text(2), s.integer(3), s.text(4)}; }
}  // namespace

Result<std::optional<UploadRecord>> SqliteMetadataStore::upload(const std::string& uuid) {
  auto conn = reads_->acquire();
  auto s = conn.db().prepare(std::string("SELECT ") + kUploadCols + " FROM uploads WHERE uuid=?1");
  s.bind(1, uuid);
  auto row = s.step();
  if (!row) return err(row);
  if (!*row) return std::optional<UploadRecord>();
  return std::optional<UploadRecord>(readUpload(s));
}

Status SqliteMetadataStore::deleteUpload(const std::string& uuid) {
  std::lock_guard lock(mu_);
  return db_.prepare("DELETE FROM uploads WHERE uuid=?1").bind(1, uuid).run();
}

Result<std::vector<UploadRecord>> SqliteMetadataStore::uploads() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kUploadCols + " FROM uploads ORDER BY created");
  std::vector<UploadRecord> out;
  while (true) {
    auto row = s.step();
    if (!row) return err(row);
    if (!*row) break;
    out.push_back(readUpload(s));
  }
  return out;
}

Result<UploadCounts> SqliteMetadataStore::countUploads(const std::string& repo, const std::string& owner) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT (SELECT COUNT(*) FROM uploads WHERE repo=?1), (SELECT COUNT(*) FROM uploads WHERE owner=?2)");
  s.bind(1, repo).bind(2, owner);
  auto row = s.step();
  if (!row) return err(row);
  return UploadCounts{static_cast<uint64_t>(s.integer(0)), static_cast<uint64_t>(s.integer(1))};
}

}  // namespace berth::storage
