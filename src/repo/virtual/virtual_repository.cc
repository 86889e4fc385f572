#include "repo/virtual/virtual_repository.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "berth/auth/access_controller.h"
#include "berth/core/media_types.h"
#include "repo/manifest_parser.h"

namespace berth::repo {
namespace {

bool isNotFound(ErrorCode c) {
  return c == ErrorCode::BlobUnknown || c == ErrorCode::ManifestUnknown || c == ErrorCode::NameUnknown;
}

// Asks the members in order and answers the first hit. A failure other than
// not-found is kept and answered only when no later member has it; when every
// member says not-found, the last one's answer goes out (the member's own
// message), or `nobody` when no member could be asked at all.
template <class Op>
auto firstHit(const std::vector<Repository*>& members, const std::string& repo_key, const Error& nobody, Op op)
    -> decltype(op(*members.front())) {
  std::optional<Error> failure, not_found;
  for (auto* m : members) {
    auto r = op(*m);
    if (r) return r;
    if (isNotFound(r.error().code)) {
      not_found = r.error();
      continue;
    }
    spdlog::debug("virtual repository {}: member {} failed ({}), trying the next", repo_key, m->key(),
                  r.error().message);
    if (!failure) failure = r.error();
  }
  return tl::unexpected(failure ? *failure : not_found ? *not_found : nobody);
}

// Merges pages of at most n items after `last` each into the first n of
// their union. That union holds the first n of the members' whole lists: an
// item among the first n overall has fewer than n items before it in its own
// list. Items at or before `last` are dropped (an upstream may ignore it).
// Members' lists come sorted (a remote's upstream may not: sorted then), so
// the union is one k-way merge that moves each item at most once, drops
// duplicates as it goes and stops after n + 1: a list of 10,000 tags in each
// of three members is 10,000 moves, not three appends, two in-place merges
// and a de-duplication over 30,000 (bench/run.sh virtual). Members are few,
// so the smallest head is found by a scan, not a heap.
Result<storage::Page> mergePages(std::vector<Result<storage::Page>> pages, const std::string& last, std::size_t n,
                                 const Error& nobody) {
  using It = std::vector<std::string>::iterator;
  struct Run {
    It at, end;
  };
  storage::Page out;
  std::optional<Error> failure, not_found;
  std::vector<Run> runs;
  std::size_t total = 0;
  bool any = false;
  for (auto& p : pages) {
    if (!p) {
      (isNotFound(p.error().code) ? not_found : failure) = p.error();
      continue;
    }
    any = true;
    out.more = out.more || p->more;
    auto& items = p->items;
    if (!std::is_sorted(items.begin(), items.end())) std::sort(items.begin(), items.end());
    auto from = last.empty() ? items.begin() : std::upper_bound(items.begin(), items.end(), last);
    if (from == items.end()) continue;
    total += static_cast<std::size_t>(items.end() - from);
    runs.push_back({from, items.end()});
  }
  // A member that failed hides nothing from the others (as for reads); when
  // all of them failed, the failure is the answer.
  if (!any) return tl::unexpected(failure ? *failure : not_found ? *not_found : nobody);
  out.items.reserve(std::min(total, n + 1));
  while (!runs.empty() && out.items.size() <= n) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < runs.size(); ++i)
      if (*runs[i].at < *runs[best].at) best = i;
    auto& run = runs[best];
    if (out.items.empty() || out.items.back() != *run.at) out.items.push_back(std::move(*run.at));
    if (++run.at == run.end) runs.erase(runs.begin() + static_cast<std::ptrdiff_t>(best));
  }
  // Members that say "more" yet give nothing after `last` (an upstream that
  // ignores it) must not send the client round in circles.
  if (out.items.empty()) out.more = false;
  if (out.items.size() > n) {
    out.items.resize(n);
    out.more = true;
  }
  return out;
}

}  // namespace

VirtualRepository::VirtualRepository(config::Repository settings, storage::MetadataStorePtr meta)
    : settings_(std::move(settings)), meta_(std::move(meta)) {}

void VirtualRepository::bind(const RepositoryRegistry& registry) {
  // Virtual members are expanded here, once, into the repositories that hold
  // content, in resolution order and each once: a read never recurses, and a
  // repository reached along several ways is asked once.
  members_.clear();
  std::set<std::string> expanding{settings_.key};
  std::function<void(const std::vector<std::string>&)> expand = [&](const std::vector<std::string>& keys) {
    for (const auto& key : keys) {
      auto* m = registry.find(key);
      if (!m) throw std::runtime_error("virtual repository " + settings_.key + ": member " + key + " does not exist");
      if (m->settings().type == config::RepoType::Virtual) {
        if (expanding.insert(key).second) expand(m->settings().virt.repositories);  // validation bounds the depth
      } else if (std::find(members_.begin(), members_.end(), m) == members_.end()) {
        members_.push_back(m);
      }
    }
  };
  expand(settings_.virt.repositories);
  const auto& d = settings_.virt.default_deployment_repo;
  deployment_ = d.empty() ? nullptr : registry.find(d);
  if (!d.empty() && !deployment_)
    throw std::runtime_error("virtual repository " + settings_.key + ": deployment repository " + d + " does not exist");
}

std::vector<Repository*> VirtualRepository::readable(const Call& call, const std::string& name) const {
  std::vector<Repository*> out;
  for (auto* m : members_)
    if (call.allows(m->key(), name, auth::Action::Read)) out.push_back(m);
  return out;
}

Result<Repository*> VirtualRepository::deployment(const Call& call, const std::string& name,
                                                  auth::Action action) const {
  if (!deployment_)
    return fail(ErrorCode::Unsupported,
                "virtual repository has no default deployment repository: pushes and deletes are not accepted",
                key());
  if (!call.allows(deployment_->key(), name, action))
    return fail(ErrorCode::Denied, "requested access to the resource is denied",
                "the default deployment repository " + deployment_->key() + " does not allow it");
  return deployment_;
}

Result<Repository*> VirtualRepository::latestLocal(const Call& call, const std::string& name,
                                                   const std::string& tag) const {
  Repository* best = nullptr;
  int64_t best_time = 0;
  for (auto* m : readable(call, name)) {
    if (m->settings().type != config::RepoType::Local) continue;
    auto rec = meta_->tagRecord(m->key(), name, tag);
    if (!rec) return tl::unexpected(rec.error());
    // Strictly later wins: on a tie the resolution order decides.
    if (*rec && (!best || (*rec)->updated > best_time)) {
      best = m;
      best_time = (*rec)->updated;
    }
  }
  return best;
}

Result<storage::BlobInfo> VirtualRepository::statBlob(const Call& call, const std::string& name, const Digest& d) {
  Error unknown{ErrorCode::BlobUnknown, "blob unknown to registry", d.str()};
  auto hit = firstHit(readable(call, name), key(), unknown, [&](Repository& m) { return m.statBlob(call, name, d); });
  // A blob HEAD is how a push asks "do you have it already?": a remote member
  // that cannot answer (its upstream down) must not fail every push through
  // this key. "Unknown" makes the client upload it; a GET still says 503.
  if (!hit && !isNotFound(hit.error().code)) {
    spdlog::warn("virtual repository {}: blob {} looked up as unknown, a member failed: {}", key(), d.str(),
                 hit.error().message);
    return tl::unexpected(unknown);
  }
  return hit;
}

Result<storage::BlobReaderPtr> VirtualRepository::openBlob(const Call& call, const std::string& name,
                                                           const Digest& d) {
  return firstHit(readable(call, name), key(), Error{ErrorCode::BlobUnknown, "blob unknown to registry", d.str()},
                  [&](Repository& m) { return m.openBlob(call, name, d); });
}

Status VirtualRepository::deleteBlob(const Call& call, const std::string& name, const Digest& d) {
  auto target = deployment(call, name, auth::Action::Delete);
  if (!target) return tl::unexpected(target.error());
  return (*target)->deleteBlob(call, name, d);
}

Result<bool> VirtualRepository::mountBlob(const Call& call, const std::string& name, const Digest& d,
                                          Repository& source, const std::string& source_name) {
  auto target = deployment(call, name, auth::Action::Deploy);
  if (!target) return tl::unexpected(target.error());
  return (*target)->mountBlob(call, name, d, source, source_name);
}

Result<UploadSessionPtr> VirtualRepository::startUpload(const Call& call, const std::string& name,
                                                        const std::string& user, bool resumable) {
  auto target = deployment(call, name, auth::Action::Deploy);
  if (!target) return tl::unexpected(target.error());
  return (*target)->startUpload(call, name, user, resumable);
}

Result<UploadSessionPtr> VirtualRepository::findUpload(const Call& call, const std::string& name,
                                                       const std::string& uuid) {
  auto target = deployment(call, name, auth::Action::Deploy);
  if (!target) return tl::unexpected(target.error());
  return (*target)->findUpload(call, name, uuid);
}

Status VirtualRepository::commitUpload(const Call& call, const UploadSessionPtr& upload, const Digest& expected) {
  // findUpload went to the deployment repository: the session is its own.
  if (!deployment_) return fail(ErrorCode::BlobUploadUnknown, "blob upload unknown to registry");
  return deployment_->commitUpload(call, upload, expected);
}

Status VirtualRepository::cancelUpload(const Call& call, const UploadSessionPtr& upload) {
  if (!deployment_) return fail(ErrorCode::BlobUploadUnknown, "blob upload unknown to registry");
  return deployment_->cancelUpload(call, upload);
}

Result<StoredManifest> VirtualRepository::getManifest(const Call& call, const std::string& name,
                                                      const Reference& ref) {
  if (!ref.isDigest() && settings_.virt.resolve_tags_by_latest_timestamp) {
    auto latest = latestLocal(call, name, ref.tag);
    if (!latest) return tl::unexpected(latest.error());
    if (*latest) {
      auto hit = (*latest)->getManifest(call, name, ref);
      // Untagged since it was chosen: the resolution order decides after all.
      if (hit || !isNotFound(hit.error().code)) return hit;
    }
  }
  return firstHit(readable(call, name), key(),
                  Error{ErrorCode::ManifestUnknown, "manifest unknown to registry", ref.str()},
                  [&](Repository& m) { return m.getManifest(call, name, ref); });
}

Result<PutManifestResult> VirtualRepository::putManifest(const Call& call, const std::string& name,
                                                         const Reference& ref, const std::string& content_type,
                                                         const std::string& bytes) {
  auto target = deployment(call, name, auth::Action::Deploy);
  if (!target) return tl::unexpected(target.error());
  // A client pushing through this key was told by HEAD that blobs another
  // member has are here, so it uploaded none of them: the deployment
  // repository takes them (and an index's children) from that member first.
  // What cannot be taken is left for putManifest to refuse, as it would.
  if (auto parsed = parseManifest(content_type, bytes)) adopt(call, **target, name, *parsed, 0);
  return (*target)->putManifest(call, name, ref, content_type, bytes);
}

void VirtualRepository::adopt(const Call& call, Repository& target, const std::string& name,
                              const ParsedManifest& manifest, int depth) {
  auto members = readable(call, name);
  for (const auto& d : manifest.blobs) {
    if (target.statBlob(call, name, d)) continue;
    for (auto* m : members)
      if (m != &target && adoptBlob(call, target, *m, name, d)) break;
  }
  if (depth > 0) return;  // an index of indexes: its grandchildren are not looked for
  for (const auto& d : manifest.manifests) {
    Reference child;
    child.digest = d;
    if (target.getManifest(call, name, child)) continue;
    for (auto* m : members) {
      if (m == &target) continue;
      auto found = m->getManifest(call, name, child);
      if (!found) continue;
      if (auto parsed = parseManifest(found->media_type, found->bytes)) adopt(call, target, name, *parsed, depth + 1);
      if (target.putManifest(call, name, child, found->media_type, found->bytes)) break;
    }
  }
}

bool VirtualRepository::adoptBlob(const Call& call, Repository& target, Repository& member, const std::string& name,
                                  const Digest& d) {
  auto mounted = target.mountBlob(call, name, d, member, name);
  if (mounted && *mounted) return true;
  if (member.settings().type != config::RepoType::Remote) return false;
  // Not cached yet: fetched through the remote (the pull the client skipped).
  auto reader = member.openBlob(call, name, d);
  if (!reader) return false;
  if (const auto& ready = (*reader)->ready()) {
    for (uint64_t held = 0; held < (*reader)->size();) {
      auto more = ready(held);
      if (!more) return false;
      held = *more;
    }
  }
  // The last byte arrives once the digest is verified; the blob is installed
  // in the store a moment later.
  for (int attempt = 0; attempt < 250; ++attempt) {
    mounted = target.mountBlob(call, name, d, member, name);
    if (!mounted) return false;
    if (*mounted) return true;
    pauseCall(call, std::chrono::milliseconds(20));
  }
  return false;
}

Result<std::optional<Digest>> VirtualRepository::resolveTag(const Call& call, const std::string& name,
                                                            const std::string& tag) {
  if (settings_.virt.resolve_tags_by_latest_timestamp) {
    auto latest = latestLocal(call, name, tag);
    if (!latest) return tl::unexpected(latest.error());
    if (*latest) {
      auto hit = (*latest)->resolveTag(call, name, tag);
      if (!hit || *hit) return hit;
    }
  }
  // "No such tag" is an empty answer here, not an error: turn it into one so
  // that firstHit moves on, and back.
  auto hit = firstHit(readable(call, name), key(), Error{ErrorCode::ManifestUnknown, "manifest unknown", tag},
                      [&](Repository& m) -> Result<std::optional<Digest>> {
                        auto r = m.resolveTag(call, name, tag);
                        if (r && !*r) return fail(ErrorCode::ManifestUnknown, "manifest unknown", tag);
                        return r;
                      });
  if (!hit && isNotFound(hit.error().code)) return std::optional<Digest>{};
  return hit;
}

Status VirtualRepository::deleteManifest(const Call& call, const std::string& name, const Reference& ref) {
  auto target = deployment(call, name, auth::Action::Delete);
  if (!target) return tl::unexpected(target.error());
  return (*target)->deleteManifest(call, name, ref);
}

Result<storage::Page> VirtualRepository::listTags(const Call& call, const std::string& name,
                                                  const std::string& last, std::size_t n) {
  std::vector<Result<storage::Page>> pages;
  for (auto* m : readable(call, name)) pages.push_back(m->listTags(call, name, last, n));
  return mergePages(std::move(pages), last, n,
                    Error{ErrorCode::NameUnknown, "repository name not known to registry", name});
}

Result<ReferrersResult> VirtualRepository::referrers(const Call& call, const std::string& name,
                                                     const Digest& subject, const std::string& artifact_type) {
  nlohmann::json manifests = nlohmann::json::array();
  std::set<std::string> seen;
  bool filtered = false;
  for (auto* m : readable(call, name)) {
    auto r = m->referrers(call, name, subject, artifact_type);
    if (!r) {
      if (!isNotFound(r.error().code))
        spdlog::warn("virtual repository {}: referrers from member {} failed: {}", key(), m->key(),
                     r.error().message);
      continue;
    }
    filtered = filtered || r->filtered;
    // Written by a member of this server (referrersIndex): parsed, not trusted blindly.
    auto index = nlohmann::json::parse(r->index_json, nullptr, false);
    if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) continue;
    for (auto& d : index["manifests"])
      if (d.is_object() && d.contains("digest") && d["digest"].is_string() &&
          seen.insert(d["digest"].get<std::string>()).second)
        manifests.push_back(std::move(d));
  }
  nlohmann::json out{{"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", std::move(manifests)}};
  return ReferrersResult{out.dump(), filtered};
}

Result<storage::Page> VirtualRepository::listImages(const Call& call, const std::string& last, std::size_t n) {
  // An image is listed when a member that has it lets the caller read it.
  // Filtering can empty a page that is not the last: then the next one is
  // read, so that an empty page never claims that more follow.
  std::string cursor = last;
  while (true) {
    std::vector<Result<storage::Page>> pages;
    std::set<std::string> allowed;
    for (auto* m : members_) {
      auto page = m->listImages(call, cursor, n);
      if (page)
        for (const auto& image : page->items)
          if (call.allows(m->key(), image, auth::Action::Read)) allowed.insert(image);
      pages.push_back(std::move(page));
    }
    if (pages.empty()) return storage::Page{};
    auto merged = mergePages(std::move(pages), cursor, n,
                             Error{ErrorCode::NameUnknown, "repository name not known to registry", key()});
    if (!merged || merged->items.empty()) return merged;
    storage::Page out{{}, merged->more};
    for (const auto& image : merged->items)
      if (allowed.count(image)) out.items.push_back(image);
    if (!out.items.empty() || !out.more) return out;
    cursor = merged->items.back();
  }
}

}  // namespace berth::repo
