#include "ops/fsck.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <chrono>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "berth/core/sha256.h"
#include "berth/repo/repository.h"
#include "ops/fsck_files.h"
#include "repo/manifest_parser.h"
#include "storage/metadata_snapshot.h"

namespace berth::ops {
namespace {
using namespace fsck_detail;

std::string key(const std::string& a, const std::string& b, const std::string& c) { return a + '\n' + b + '\n' + c; }

// The hex of a "sha256:<hex>" digest string; "" when it is not one.
std::string hexOf(const std::string& digest) {
  if (digest.rfind("sha256:", 0) != 0) return {};
  std::string hex = digest.substr(7);
  return isHexDigest(hex) ? hex : std::string();
}

std::string blobPath(const std::string& hex) { return "blobs/sha256/" + hex.substr(0, 2) + "/" + hex; }

FsckProblem problem(const char* kind, const std::string& repo, const std::string& image, const std::string& digest,
                    std::string message) {
  FsckProblem p;
  p.kind = kind;
  p.repo = repo;
  p.image = image;
  p.digest = digest;
  p.message = std::move(message);
  if (auto hex = hexOf(digest); !hex.empty()) p.path = blobPath(hex);
  return p;
}

class Checker {
 public:
  Checker(const storage::Paths& paths, const RepoTypes& repos, const storage::MetadataSnapshot& snap,
          const BlobStoreScan& scan)
      : paths_(paths), repos_(repos), snap_(snap), scan_(scan) {
    for (const auto& l : snap_.links) links_.insert(key(l.repo, l.name, l.digest));
    for (const auto& m : snap_.manifests) manifests_.insert(key(m.repo, m.name, m.digest));
    for (const auto& r : snap_.refs) refs_.insert(key(r.repo, r.name, r.parent) + '\n' + r.child + '\n' + r.kind);
  }

  void run() {
    checkRepositories();
    checkLinks();
    checkManifests();
    checkTags();
    checkBlobFiles();
  }

  std::vector<FsckProblem> problems;    // certain: they follow from one snapshot, or from file content
  std::vector<FsckProblem> candidates;  // a row and a file's absence or size: confirmed in confirm()

 private:
  void checkRepositories() {
    std::map<std::string, std::size_t> rows;
    for (const auto& l : snap_.links) ++rows[l.repo];
    for (const auto& m : snap_.manifests) ++rows[m.repo];
    for (const auto& t : snap_.tags) ++rows[t.repo];
    for (const auto& [repo, n] : rows) {
      if (repos_.count(repo)) continue;
      FsckProblem p = problem(fsck_kind::kUnknownRepository, repo, "", "",
                              std::to_string(n) + " links, manifests and tags belong to a repository that is not "
                                                  "in the configuration; checked as a local repository");
      p.severity = FsckSeverity::Warning;
      problems.push_back(std::move(p));
    }
  }

  void checkLinks() {
    for (const auto& l : snap_.links) {
      std::string hex = hexOf(l.digest);
      if (hex.empty()) {
        problems.push_back(problem(fsck_kind::kBlobMissing, l.repo, l.name, l.digest, "the link's digest is not a sha256 digest"));
        continue;
      }
      auto it = scan_.blobs.find(hex);
      if (it == scan_.blobs.end())
        candidates.push_back(problem(fsck_kind::kBlobMissing, l.repo, l.name, l.digest,
                                     "linked with " + std::to_string(l.size) + " bytes, but its file does not exist"));
      else if (it->second.size != l.size)
        candidates.push_back(problem(fsck_kind::kBlobSize, l.repo, l.name, l.digest,
                                     "linked with " + std::to_string(l.size) + " bytes, but its file has " +
                                         std::to_string(it->second.size)));
    }
  }

  void checkManifests() {
    // Grouped by digest: each file is read once, whatever number of images hold it.
    std::vector<const storage::ManifestRow*> rows;
    for (const auto& m : snap_.manifests) rows.push_back(&m);
    std::stable_sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->digest < b->digest; });
    for (std::size_t i = 0; i < rows.size();) {
      std::size_t end = i;
      while (end < rows.size() && rows[end]->digest == rows[i]->digest) ++end;
      checkManifestFile(std::vector<const storage::ManifestRow*>(rows.begin() + i, rows.begin() + end));
      i = end;
    }
  }

  void checkManifestFile(const std::vector<const storage::ManifestRow*>& rows) {
    const std::string& digest = rows.front()->digest;
    auto each = [&](const char* kind, const std::string& message, bool candidate = false) {
      for (const auto* r : rows) (candidate ? candidates : problems).push_back(problem(kind, r->repo, r->name, digest, message));
    };
    std::string hex = hexOf(digest);
    if (hex.empty()) return each(fsck_kind::kManifestDigest, "the row's digest is not a sha256 digest");
    auto size = fileSize(paths_.blob(Digest::fromHex(hex)));
    if (size && *size && **size > repo::kMaxManifestBytes)
      return each(fsck_kind::kManifestInvalid, "its file has " + std::to_string(**size) + " bytes, more than a manifest may");
    auto bytes = size ? readSmallFile(paths_.blob(Digest::fromHex(hex)), repo::kMaxManifestBytes)
                      : Result<std::optional<std::string>>(tl::unexpected(size.error()));
    if (!bytes) return each(fsck_kind::kBlobUnreadable, bytes.error().message);
    if (!*bytes) return each(fsck_kind::kManifestMissing, "stored as a manifest, but its file does not exist", true);
    const std::string& content = **bytes;
    if (std::string actual = Sha256::of(content).str(); actual != digest)
      return each(fsck_kind::kManifestDigest, "its file's content hashes to " + actual);
    for (const auto* r : rows) {
      if (r->size != content.size())
        problems.push_back(problem(fsck_kind::kManifestSize, r->repo, r->name, digest,
                                   "stored with " + std::to_string(r->size) + " bytes, its file has " +
                                       std::to_string(content.size())));
      auto parsed = repo::parseManifest(r->media_type, content);
      if (!parsed) {
        const auto& e = parsed.error();
        problems.push_back(problem(fsck_kind::kManifestInvalid, r->repo, r->name, digest,
                                   "does not parse as " + r->media_type + ": " + e.message +
                                       (e.detail.empty() ? "" : " (" + e.detail + ")")));
        continue;
      }
      checkReferences(*r, *parsed);
    }
  }

  void checkReferences(const storage::ManifestRow& m, const repo::ParsedManifest& parsed) {
    auto type = repos_.find(m.repo);
    // A remote's cache holds what was pulled: layers come when asked for.
    const bool lazy = type != repos_.end() && type->second == config::RepoType::Remote;
    auto check = [&](const Digest& d, const char* kind, const std::unordered_set<std::string>& present) {
      const std::string child = d.str();
      const bool blob = std::string(kind) == "blob";
      if (!lazy && !present.count(key(m.repo, m.name, child))) {
        auto p = problem(fsck_kind::kReferenceMissing, m.repo, m.name, m.digest,
                         blob ? "references blob " + child + ", which is not linked to the image"
                              : "references manifest " + child + ", which the image does not hold");
        p.reference = child;
        problems.push_back(std::move(p));
      }
      if (!refs_.count(key(m.repo, m.name, m.digest) + '\n' + child + '\n' + kind)) {
        auto p = problem(fsck_kind::kReferenceUnrecorded, m.repo, m.name, m.digest,
                         std::string("references ") + kind + " " + child +
                             ", which manifest_refs does not record (garbage collection would not see it)");
        p.reference = child;
        problems.push_back(std::move(p));
      }
    };
    for (const auto& b : parsed.blobs) check(b, "blob", links_);
    for (const auto& c : parsed.manifests) check(c, "manifest", manifests_);
  }

  void checkTags() {
    for (const auto& t : snap_.tags) {
      if (manifests_.count(key(t.repo, t.name, t.digest))) continue;
      auto p = problem(fsck_kind::kTagDangling, t.repo, t.name, "",
                       "points at " + t.digest + ", which is not a manifest of the image");
      p.tag = t.tag;
      p.reference = t.digest;
      problems.push_back(std::move(p));
    }
  }

  void checkBlobFiles() {
    std::unordered_map<std::string, std::size_t> link_count;
    for (const auto& l : snap_.links) ++link_count[hexOf(l.digest)];
    std::unordered_set<std::string> manifest_hex, child_hex;
    for (const auto& m : snap_.manifests) manifest_hex.insert(hexOf(m.digest));
    for (const auto& r : snap_.refs) child_hex.insert(hexOf(r.child));
    for (const auto& [hex, f] : scan_.blobs) {
      const bool is_manifest = manifest_hex.count(hex) > 0;
      auto links = link_count.find(hex);
      if (!is_manifest && links == link_count.end() && !child_hex.count(hex)) {
        ++unreferenced_blobs;
        unreferenced_bytes += f.size;
      }
      std::string held = links == link_count.end() ? "no image links it"
                                                   : "linked to " + std::to_string(links->second) +
                                                         (links->second == 1 ? " image" : " images");
      if (f.state == BlobFile::State::Unreadable) {
        problems.push_back(problem(fsck_kind::kBlobUnreadable, "", "", "sha256:" + hex, f.note + " (" + held + ")"));
      } else if (f.state == BlobFile::State::Mismatch && !is_manifest) {
        // A manifest's file is reported as manifest_digest, once per image holding it.
        problems.push_back(
            problem(fsck_kind::kBlobDigest, "", "", "sha256:" + hex, "its content hashes to " + f.note + " (" + held + ")"));
      }
    }
  }

 public:
  uint64_t unreferenced_blobs = 0, unreferenced_bytes = 0;

 private:
  const storage::Paths& paths_;
  const RepoTypes& repos_;
  const storage::MetadataSnapshot& snap_;
  const BlobStoreScan& scan_;
  std::unordered_set<std::string> links_, manifests_, refs_;
};

// A candidate stands if a fresh snapshot still has its row and a fresh stat
// still shows the file absent or of another size: a delete or a garbage
// collection running beside fsck removes the row before the file.
Result<std::vector<FsckProblem>> confirm(const storage::Paths& paths, std::vector<FsckProblem> candidates) {
  if (candidates.empty()) return candidates;
  auto snap = storage::readMetadataSnapshot(paths.metadataDb());
  if (!snap) return tl::unexpected(snap.error());
  std::unordered_map<std::string, uint64_t> links;
  for (const auto& l : snap->links) links[key(l.repo, l.name, l.digest)] = l.size;
  std::unordered_set<std::string> manifests;
  for (const auto& m : snap->manifests) manifests.insert(key(m.repo, m.name, m.digest));
  std::vector<FsckProblem> out;
  for (auto& c : candidates) {
    const std::string k = key(c.repo, c.image, c.digest);
    auto size = fileSize(paths.root() + "/" + c.path);
    if (!size) {
      c.kind = fsck_kind::kBlobUnreadable;
      c.message = size.error().message;
      out.push_back(std::move(c));
      continue;
    }
    if (c.kind == fsck_kind::kManifestMissing) {
      if (manifests.count(k) && !*size) out.push_back(std::move(c));
      continue;
    }
    auto link = links.find(k);
    if (link == links.end()) continue;
    if (!*size) {
      c.kind = fsck_kind::kBlobMissing;
      c.message = "linked with " + std::to_string(link->second) + " bytes, but its file does not exist";
      out.push_back(std::move(c));
    } else if (**size != link->second) {
      c.kind = fsck_kind::kBlobSize;
      c.message = "linked with " + std::to_string(link->second) + " bytes, but its file has " + std::to_string(**size);
      out.push_back(std::move(c));
    }
  }
  return out;
}

// The config file's repositories and those the repository API created
// (docs/api.md, "Repositories"): the daemon serves both. The file's win a key
// both define, as in the daemon.
RepoTypes withApiRepositories(RepoTypes repos, const storage::MetadataSnapshot& snap) {
  for (const auto& [key, entry] : snap.api_repositories) {
    auto j = nlohmann::json::parse(entry, nullptr, false);
    const auto& t = j.is_object() && j.contains("type") ? j["type"] : nlohmann::json();
    const std::string type = t.is_string() ? t.get<std::string>() : "local";
    repos.emplace(key, type == "remote"    ? config::RepoType::Remote
                       : type == "virtual" ? config::RepoType::Virtual
                                           : config::RepoType::Local);
  }
  return repos;
}

}  // namespace

std::size_t FsckReport::errors() const {
  return static_cast<std::size_t>(
      std::count_if(problems.begin(), problems.end(), [](const auto& p) { return p.severity == FsckSeverity::Error; }));
}

std::size_t FsckReport::warnings() const { return problems.size() - errors(); }

Result<FsckReport> checkStore(const std::string& root, const RepoTypes& repos, const FsckOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  storage::Paths paths(root);
  // Metadata first: a blob's file is durable before its link is written, so
  // every link of the snapshot has its file by the time the walk looks.
  auto snap = storage::readMetadataSnapshot(paths.metadataDb());
  if (!snap) return tl::unexpected(snap.error());
  auto scan = scanBlobStore(paths, snap->upload_ids, options);
  if (!scan) return tl::unexpected(scan.error());

  const RepoTypes served = withApiRepositories(repos, *snap);
  Checker checker(paths, served, *snap, *scan);
  checker.run();
  if (options.before_confirm) options.before_confirm();
  auto confirmed = confirm(paths, std::move(checker.candidates));
  if (!confirmed) return tl::unexpected(confirmed.error());

  FsckReport report;
  report.quick = options.quick;
  report.problems = std::move(checker.problems);
  report.problems.insert(report.problems.end(), confirmed->begin(), confirmed->end());
  report.problems.insert(report.problems.end(), scan->warnings.begin(), scan->warnings.end());
  std::sort(report.problems.begin(), report.problems.end(), [](const FsckProblem& a, const FsckProblem& b) {
    return std::tie(a.severity, a.kind, a.repo, a.image, a.digest, a.tag, a.path, a.reference) <
           std::tie(b.severity, b.kind, b.repo, b.image, b.digest, b.tag, b.path, b.reference);
  });
  auto& s = report.stats;
  s.blob_links = snap->links.size();
  s.manifests = snap->manifests.size();
  s.tags = snap->tags.size();
  s.blob_files = scan->blobs.size();
  s.bytes_hashed = scan->bytes_hashed;
  s.unreferenced_blobs = checker.unreferenced_blobs;
  s.unreferenced_bytes = checker.unreferenced_bytes;
  s.metadata_immutable = snap->immutable;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace berth::ops
