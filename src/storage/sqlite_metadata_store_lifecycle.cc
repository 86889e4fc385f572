// Promotion, deletion with pruning, and max unique tags (docs/lifecycle.md):
// the metadata operations that move or remove whole images and tags, each in
// the one transaction of its public method.
#include <algorithm>
#include <ctime>
#include <set>

#include "storage/sqlite_metadata_store.h"

namespace berth::storage {
namespace {

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

// Column 0 of every row (the statement is read to its end, so that the same
// SQL can be prepared again while the caller works on the rows).
Result<std::vector<std::string>> firstColumn(Stmt& s) {
  std::vector<std::string> out;
  while (true) {
    auto row = s.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return out;
    out.push_back(s.text(0));
  }
}

Digest digestOf(const std::string& text) { return Digest::fromHex(text.substr(7)); }

constexpr const char* kRemovable =
    "SELECT EXISTS(SELECT 1 FROM manifests WHERE repo=?1 AND name=?2 AND digest=?3 AND MAX(used, created) <= ?4) "
    "AND NOT EXISTS(SELECT 1 FROM tags WHERE repo=?1 AND name=?2 AND digest=?3) "
    "AND NOT EXISTS(SELECT 1 FROM manifest_refs WHERE repo=?1 AND name=?2 AND child=?3 AND kind='manifest')";
constexpr const char* kRefsOf = "SELECT child FROM manifest_refs WHERE repo=?1 AND name=?2 AND parent=?3 AND kind=?4";
constexpr const char* kReferrersOf = "SELECT digest FROM manifests WHERE repo=?1 AND name=?2 AND subject=?3";

}  // namespace

Status SqliteMetadataStore::writeTag(const std::string& repo, const std::string& name, const std::string& tag,
                                     const std::string& digest) {
  // seq: one counter over all tags (indexed), so push order is exact even
  // within one second.
  return db_
      .prepare("INSERT OR REPLACE INTO tags(repo, name, tag, digest, updated, seq) "
               "VALUES(?1,?2,?3,?4,?5,(SELECT COALESCE(MAX(seq),0)+1 FROM tags))")
      .bind(1, repo).bind(2, name).bind(3, tag).bind(4, digest).bind(5, now()).run();
}

Result<std::vector<std::string>> SqliteMetadataStore::enforceTagLimit(const std::string& repo, const std::string& name,
                                                                      const TagLimit& limit,
                                                                      const std::vector<std::string>& fresh) {
  std::vector<std::string> evicted;
  if (limit.max == 0) return evicted;
  auto count = db_.prepare("SELECT COUNT(*) FROM tags WHERE repo=?1 AND name=?2");
  count.bind(1, repo).bind(2, name);
  if (auto row = count.step(); !row) return tl::unexpected(row.error());
  auto total = static_cast<std::size_t>(count.integer(0));
  if (total <= limit.max) return evicted;
  auto excess = total - limit.max;
  auto list = db_.prepare("SELECT tag, digest FROM tags WHERE repo=?1 AND name=?2 ORDER BY seq, updated, tag");
  list.bind(1, repo).bind(2, name);
  std::vector<std::string> digests;
  auto keep = [&](const std::string& tag) {
    auto in = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), tag) != v.end(); };
    return in(limit.protected_tags) || in(fresh);
  };
  while (evicted.size() < excess) {
    auto row = list.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    if (keep(list.text(0))) continue;
    evicted.push_back(list.text(0));
    digests.push_back(list.text(1));
  }
  for (const auto& tag : evicted)
    if (auto st = db_.prepare("DELETE FROM tags WHERE repo=?1 AND name=?2 AND tag=?3")
                      .bind(1, repo).bind(2, name).bind(3, tag).run();
        !st)
      return tl::unexpected(st.error());
  if (auto st = prune(repo, name, std::move(digests)); !st) return tl::unexpected(st.error());
  return evicted;
}

Status SqliteMetadataStore::prune(const std::string& repo, const std::string& name,
                                  std::vector<std::string> candidates, int64_t used_by) {
  std::set<std::string> done, blobs;
  while (!candidates.empty()) {
    std::string d = std::move(candidates.back());
    candidates.pop_back();
    if (!done.insert(d).second) continue;
    auto removable = db_.prepare(kRemovable);
    removable.bind(1, repo).bind(2, name).bind(3, d).bind(4, used_by);
    if (auto row = removable.step(); !row) return tl::unexpected(row.error());
    if (removable.integer(0) == 0) continue;
    for (const char* kind : {"manifest", "blob"}) {
      auto s = db_.prepare(kRefsOf);
      s.bind(1, repo).bind(2, name).bind(3, d).bind(4, std::string(kind));
      auto refs = firstColumn(s);
      if (!refs) return tl::unexpected(refs.error());
      if (kind == std::string("blob"))
        blobs.insert(refs->begin(), refs->end());
      else
        candidates.insert(candidates.end(), refs->begin(), refs->end());
    }
    // Referrers (signatures, SBOMs) of a removed manifest have nothing left to describe.
    auto rs = db_.prepare(kReferrersOf);
    rs.bind(1, repo).bind(2, name).bind(3, d);
    auto referrers = firstColumn(rs);
    if (!referrers) return tl::unexpected(referrers.error());
    candidates.insert(candidates.end(), referrers->begin(), referrers->end());
    for (const char* sql : {"DELETE FROM manifests WHERE repo=?1 AND name=?2 AND digest=?3",
                            "DELETE FROM manifest_refs WHERE repo=?1 AND name=?2 AND parent=?3"})
      if (auto st = db_.prepare(sql).bind(1, repo).bind(2, name).bind(3, d).run(); !st) return st;
  }
  for (const auto& b : blobs) {
    auto st = db_.prepare("DELETE FROM blob_links WHERE repo=?1 AND name=?2 AND digest=?3 AND NOT EXISTS("
                          "SELECT 1 FROM manifest_refs WHERE repo=?1 AND name=?2 AND child=?3 AND kind='blob')")
                  .bind(1, repo).bind(2, name).bind(3, b).run();
    if (!st) return st;
  }
  return {};
}

Status SqliteMetadataStore::removeImageRows(const std::string& repo, const std::string& name) {
  for (const char* sql : {"DELETE FROM tags WHERE repo=?1 AND name=?2", "DELETE FROM manifests WHERE repo=?1 AND name=?2",
                          "DELETE FROM manifest_refs WHERE repo=?1 AND name=?2",
                          "DELETE FROM blob_links WHERE repo=?1 AND name=?2"})
    if (auto st = db_.prepare(sql).bind(1, repo).bind(2, name).run(); !st) return st;
  return db_.prepare("DELETE FROM images WHERE path=?1").bind(1, repo + "/" + name).run();
}

Result<bool> SqliteMetadataStore::deleteTagAndPrune(const std::string& repo, const std::string& name,
                                                    const std::string& tag) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto st = tx.begin(); !st) return tl::unexpected(st.error());
  auto s = db_.prepare("SELECT digest FROM tags WHERE repo=?1 AND name=?2 AND tag=?3");
  s.bind(1, repo).bind(2, name).bind(3, tag);
  auto digest = firstColumn(s);
  if (!digest) return tl::unexpected(digest.error());
  if (digest->empty()) return false;
  if (auto st = db_.prepare("DELETE FROM tags WHERE repo=?1 AND name=?2 AND tag=?3")
                    .bind(1, repo).bind(2, name).bind(3, tag).run();
      !st)
    return tl::unexpected(st.error());
  if (auto st = prune(repo, name, std::move(*digest)); !st) return tl::unexpected(st.error());
  if (auto st = forgetImageIfEmpty(repo, name); !st) return tl::unexpected(st.error());
  if (auto c = tx.commit(); !c) return tl::unexpected(c.error());
  return true;
}

Result<bool> SqliteMetadataStore::deleteImage(const std::string& repo, const std::string& name) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto st = tx.begin(); !st) return tl::unexpected(st.error());
  auto s = db_.prepare("SELECT 1 FROM images WHERE path=?1");
  s.bind(1, repo + "/" + name);
  auto known = s.step();
  if (!known) return tl::unexpected(known.error());
  if (!*known) return false;
  if (auto st = removeImageRows(repo, name); !st) return tl::unexpected(st.error());
  if (auto c = tx.commit(); !c) return tl::unexpected(c.error());
  return true;
}

Result<std::size_t> SqliteMetadataStore::deleteRepositoryContent(const std::string& repo) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto st = tx.begin(); !st) return tl::unexpected(st.error());
  auto count = db_.prepare("SELECT COUNT(*) FROM images WHERE repo=?1");
  count.bind(1, repo);
  auto row = count.step();
  if (!row) return tl::unexpected(row.error());
  auto images = static_cast<std::size_t>(*row ? count.integer(0) : 0);
  for (const char* sql : {"DELETE FROM tags WHERE repo=?1", "DELETE FROM manifests WHERE repo=?1",
                          "DELETE FROM manifest_refs WHERE repo=?1", "DELETE FROM blob_links WHERE repo=?1",
                          "DELETE FROM images WHERE repo=?1"})
    if (auto st = db_.prepare(sql).bind(1, repo).run(); !st) return tl::unexpected(st.error());
  if (auto c = tx.commit(); !c) return tl::unexpected(c.error());
  return images;
}

Result<PromoteOutcome> SqliteMetadataStore::promote(const PromoteSpec& p) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);  // rolled back on every early return
  if (auto st = tx.begin(); !st) return tl::unexpected(st.error());
  PromoteOutcome out;
  auto refuse = [&](PromoteStatus status, std::string detail) {
    out.status = status;
    out.detail = std::move(detail);
    return out;
  };
  const bool same_image = p.from_repo == p.to_repo && p.from_name == p.to_name;

  // What to carry: the tag's manifest, or every manifest and tag of the image.
  std::vector<std::pair<std::string, std::string>> tags;  // (source tag, digest), in push order
  std::vector<std::string> queue;
  if (p.tag) {
    auto s = db_.prepare("SELECT digest FROM tags WHERE repo=?1 AND name=?2 AND tag=?3");
    s.bind(1, p.from_repo).bind(2, p.from_name).bind(3, *p.tag);
    auto d = firstColumn(s);
    if (!d) return tl::unexpected(d.error());
    if (d->empty()) return refuse(PromoteStatus::TagUnknown, *p.tag);
    tags.emplace_back(*p.tag, d->front());
    queue.push_back(d->front());
  } else {
    auto s = db_.prepare("SELECT tag, digest FROM tags WHERE repo=?1 AND name=?2 ORDER BY seq, updated, tag");
    s.bind(1, p.from_repo).bind(2, p.from_name);
    while (true) {
      auto row = s.step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      tags.emplace_back(s.text(0), s.text(1));
    }
    auto m = db_.prepare("SELECT digest FROM manifests WHERE repo=?1 AND name=?2 ORDER BY digest");
    m.bind(1, p.from_repo).bind(2, p.from_name);
    auto all = firstColumn(m);
    if (!all) return tl::unexpected(all.error());
    if (all->empty()) return refuse(PromoteStatus::ImageUnknown, p.from_name);
    queue = std::move(*all);
  }

  // The closure: an index's children and every manifest's referrers, all of
  // which must be in the source, as must the links of the blobs they reference.
  std::set<std::string> seen, blobs;
  std::vector<std::string> manifests;
  while (!queue.empty()) {
    std::string d = std::move(queue.back());
    queue.pop_back();
    if (!seen.insert(d).second) continue;
    auto exists = db_.prepare("SELECT 1 FROM manifests WHERE repo=?1 AND name=?2 AND digest=?3");
    exists.bind(1, p.from_repo).bind(2, p.from_name).bind(3, d);
    auto row = exists.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return refuse(PromoteStatus::Incomplete, d);
    for (const char* kind : {"manifest", "blob"}) {
      auto s = db_.prepare(kRefsOf);
      s.bind(1, p.from_repo).bind(2, p.from_name).bind(3, d).bind(4, std::string(kind));
      auto refs = firstColumn(s);
      if (!refs) return tl::unexpected(refs.error());
      if (kind == std::string("blob"))
        blobs.insert(refs->begin(), refs->end());
      else
        queue.insert(queue.end(), refs->begin(), refs->end());
    }
    auto rs = db_.prepare(kReferrersOf);
    rs.bind(1, p.from_repo).bind(2, p.from_name).bind(3, d);
    auto referrers = firstColumn(rs);
    if (!referrers) return tl::unexpected(referrers.error());
    queue.insert(queue.end(), referrers->begin(), referrers->end());
    manifests.push_back(d);
  }
  for (const auto& b : blobs) {
    auto s = db_.prepare("SELECT 1 FROM blob_links WHERE repo=?1 AND name=?2 AND digest=?3");
    s.bind(1, p.from_repo).bind(2, p.from_name).bind(3, b);
    auto row = s.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return refuse(PromoteStatus::Incomplete, b);
  }

  // Target tags, and which of them would name another manifest.
  std::vector<std::pair<std::string, std::string>> writes;  // (target tag, digest)
  for (const auto& [tag, d] : tags) {
    std::string target = p.tag && !p.target_tag.empty() ? p.target_tag : tag;
    auto s = db_.prepare("SELECT digest FROM tags WHERE repo=?1 AND name=?2 AND tag=?3");
    s.bind(1, p.to_repo).bind(2, p.to_name).bind(3, target);
    auto existing = firstColumn(s);
    if (!existing) return tl::unexpected(existing.error());
    if (!existing->empty() && existing->front() != d) out.overwritten.push_back(target);
    writes.emplace_back(target, d);
  }
  if (!out.overwritten.empty() && !p.allow_overwrite)
    return refuse(PromoteStatus::OverwriteRefused, out.overwritten.front());

  // Copy: records and references as they are, links with the source's sizes.
  if (auto st = touchImage(p.to_repo, p.to_name); !st) return tl::unexpected(st.error());
  auto copy = [&](const std::string& sql, const std::string& key) {
    auto s = db_.prepare(sql);
    s.bind(1, p.from_repo).bind(2, p.from_name).bind(3, key).bind(4, p.to_repo).bind(5, p.to_name);
    if (sql.find("?6") != std::string::npos) s.bind(6, now());
    return s.run();
  };
  for (const auto& d : manifests) {
    for (const char* sql :
         {"INSERT OR IGNORE INTO manifests(repo, name, digest, media_type, size, subject, artifact_type, annotations, "
          "created) SELECT ?4, ?5, digest, media_type, size, subject, artifact_type, annotations, created "
          "FROM manifests WHERE repo=?1 AND name=?2 AND digest=?3",
          "INSERT OR IGNORE INTO manifest_refs(repo, name, parent, child, kind) SELECT ?4, ?5, parent, child, kind "
          "FROM manifest_refs WHERE repo=?1 AND name=?2 AND parent=?3"})
      if (auto st = copy(sql, d); !st) return tl::unexpected(st.error());
  }
  for (const auto& b : blobs)
    if (auto st = copy("INSERT OR IGNORE INTO blob_links(repo, name, digest, size, created) "
                       "SELECT ?4, ?5, digest, size, ?6 FROM blob_links WHERE repo=?1 AND name=?2 AND digest=?3",
                       b);
        !st)
      return tl::unexpected(st.error());
  std::vector<std::string> fresh;
  for (const auto& [tag, d] : writes) {
    if (auto st = writeTag(p.to_repo, p.to_name, tag, d); !st) return tl::unexpected(st.error());
    out.tags.emplace_back(tag, digestOf(d));
    fresh.push_back(tag);
  }
  out.manifests = manifests.size();
  out.blobs = blobs.size();
  auto evicted = enforceTagLimit(p.to_repo, p.to_name, p.limit, fresh);
  if (!evicted) return tl::unexpected(evicted.error());
  out.evicted = std::move(*evicted);

  // A move then takes from the source what the promoted tags alone held.
  if (p.move && !same_image) {
    if (!p.tag) {
      if (auto st = removeImageRows(p.from_repo, p.from_name); !st) return tl::unexpected(st.error());
    } else {
      if (auto st = db_.prepare("DELETE FROM tags WHERE repo=?1 AND name=?2 AND tag=?3")
                        .bind(1, p.from_repo).bind(2, p.from_name).bind(3, *p.tag).run();
          !st)
        return tl::unexpected(st.error());
      if (auto st = prune(p.from_repo, p.from_name, {tags.front().second}); !st) return tl::unexpected(st.error());
    }
  } else if (p.move && p.tag && writes.front().first != *p.tag) {
    // A rename within the image: the old tag goes, the manifest stays (the new tag holds it).
    if (auto st = db_.prepare("DELETE FROM tags WHERE repo=?1 AND name=?2 AND tag=?3")
                      .bind(1, p.from_repo).bind(2, p.from_name).bind(3, *p.tag).run();
        !st)
      return tl::unexpected(st.error());
  }
  if (p.move)
    if (auto st = forgetImageIfEmpty(p.from_repo, p.from_name); !st) return tl::unexpected(st.error());
  if (auto c = tx.commit(); !c) return tl::unexpected(c.error());
  return out;
}

}  // namespace berth::storage
