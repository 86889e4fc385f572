#include "repo/remote/remote_repository.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <thread>

#include "berth/core/media_types.h"
#include "berth/core/sha256.h"
#include "http/client.h"
#include "repo/local_repository.h"
#include "repo/manifest_parser.h"
#include "repo/remote/tag_list.h"
#include "observe/metrics.h"

namespace berth::repo::remote {
namespace {

tl::unexpected<Error> blobUnknown(const Digest& d) {
  return fail(ErrorCode::BlobUnknown, "blob unknown to registry", d.str());
}
tl::unexpected<Error> manifestUnknown(const std::string& ref) {
  return fail(ErrorCode::ManifestUnknown, "manifest unknown to registry", ref);
}

// Every manifest type Berth stores, so the cache holds what any client may want.
const Headers& manifestAccept() {
  static const Headers h{{"Accept", std::string(media::kOciIndex) + ", " + std::string(media::kOciManifest) + ", " +
                                        std::string(media::kDockerList) + ", " + std::string(media::kDockerManifest)}};
  return h;
}

std::string mediaTypeOf(const http::ClientResponse& res) {
  std::string ct = res.header("Content-Type");
  if (auto semi = ct.find(';'); semi != std::string::npos) ct.resize(semi);
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  return ct;
}

int64_t nowSeconds() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

RemoteRepository::RemoteRepository(config::Repository settings, storage::BlobStorePtr blobs,
                                   storage::MetadataStorePtr meta, std::shared_ptr<UploadStore> uploads,
                                   std::shared_ptr<http::HttpClient> client)
    : settings_(std::move(settings)),
      blobs_(std::move(blobs)),
      meta_(std::move(meta)),
      uploads_(std::move(uploads)),
      client_(std::move(client)),
      upstream_(settings_.remote, client_) {}

RemoteRepository::~RemoteRepository() {
  stopping_ = true;
  {
    std::lock_guard lock(fetch_mu_);
    for (auto& [d, f] : fetches_) f->cancel();
  }
  // A fetch stops at its next read; one waiting on a stalled upstream would
  // wait out the timeout (60 s by default) unless its connection fails now.
  client_->shutdown();
  while (running_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

tl::unexpected<Error> RemoteRepository::readOnly() const {
  return fail(ErrorCode::Unsupported,
              "repository " + key() + " is a remote (pull-through cache) repository: push to a local repository");
}

// --- blobs (fetching them: remote_blobs.cc) ----------------------------------

Status RemoteRepository::deleteBlob(const Call&, const std::string& name, const Digest& d) {
  auto removed = meta_->unlinkBlob(key(), name, d);
  if (!removed) return tl::unexpected(removed.error());
  if (!*removed) return blobUnknown(d);
  return {};
}

Result<bool> RemoteRepository::mountBlob(const Call&, const std::string&, const Digest&, Repository&,
                                         const std::string&) {
  return readOnly();
}

Result<UploadSessionPtr> RemoteRepository::startUpload(const Call&, const std::string&, const std::string&, bool) {
  return readOnly();
}
Result<UploadSessionPtr> RemoteRepository::findUpload(const Call&, const std::string&, const std::string&) {
  return readOnly();
}
Status RemoteRepository::commitUpload(const Call&, const UploadSessionPtr&, const Digest&) { return readOnly(); }
Status RemoteRepository::cancelUpload(const Call&, const UploadSessionPtr&) { return readOnly(); }

// --- manifests ---------------------------------------------------------------

Result<StoredManifest> RemoteRepository::cached(const std::string& name, const Digest& d) {
  auto rec = meta_->manifest(key(), name, d);
  if (!rec) return tl::unexpected(rec.error());
  if (!*rec) return manifestUnknown(d.str());
  auto bytes = blobs_->readBytes(d, kMaxManifestBytes);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::BlobUnknown) return manifestUnknown(d.str());
    return tl::unexpected(bytes.error());
  }
  noteForeignLayers(name, (*rec)->media_type, *bytes, /*prefetch=*/false);
  // A pull served from the cache: cache_retention_hours counts from here.
  // Mostly no write at all (markManifestUsed); a failure costs an earlier
  // eviction at worst, never the pull.
  if (auto used = meta_->markManifestUsed(**rec); !used)
    spdlog::warn("remote {}: could not record the use of {}@{}: {}", key(), name, d.str(), used.error().message);
  return StoredManifest{d, (*rec)->media_type, std::move(*bytes)};
}

Result<StoredManifest> RemoteRepository::getManifest(const Call& call, const std::string& name, const Reference& ref) {
  if (!ref.isDigest()) return byTag(call, name, ref.tag);
  auto have = cached(name, ref.digest);
  if (have || have.error().code != ErrorCode::ManifestUnknown || settings_.remote.offline) {
    if (have) observe::metrics().cacheLookup(observe::CacheKind::Manifest, true);
    return have;
  }
  observe::metrics().cacheLookup(observe::CacheKind::Manifest, false);
  return manifest_flights_.run(name + "@" + ref.digest.str(), call,
                               [&] { return fetchManifest(call, name, ref); });
}

Result<StoredManifest> RemoteRepository::byTag(const Call& call, const std::string& name, const std::string& tag) {
  auto rec = meta_->tagRecord(key(), name, tag);
  if (!rec) return tl::unexpected(rec.error());
  if (*rec && (settings_.remote.offline || nowSeconds() - (*rec)->updated < int64_t(settings_.remote.metadata_ttl_seconds)))
    if (auto have = cached(name, (*rec)->digest); have) {
      observe::metrics().cacheLookup(observe::CacheKind::Manifest, true);
      return have;
    }
  if (settings_.remote.offline) return manifestUnknown(tag);
  observe::metrics().cacheLookup(observe::CacheKind::Manifest, false);
  auto stale = [&](const Error& why) -> Result<StoredManifest> {
    if (*rec)
      if (auto have = cached(name, (*rec)->digest); have) {
        spdlog::warn("remote {}: serving stale {}:{} ({}): {}", key(), name, tag, (*rec)->digest.str(), why.message);
        return have;
      }
    return tl::unexpected(why);
  };
  return manifest_flights_.run(name + ":" + tag, call, [&]() -> Result<StoredManifest> {
    if (*rec) {
      auto head = headManifest(call, name, tag);
      if (!head) return stale(head.error());
      if (*head && **head == (*rec)->digest) {
        (void)meta_->touchTag(key(), name, tag);
        if (auto have = cached(name, (*rec)->digest); have) return have;
      }
    }
    auto got = fetchManifest(call, name, Reference{tag, {}});
    if (!got && got.error().code != ErrorCode::ManifestUnknown) return stale(got.error());
    if (!got && *rec) (void)meta_->deleteTag(key(), name, tag);  // gone upstream
    return got;
  });
}

// The digest the upstream's tag points to now; none when the upstream does
// not know the tag, or did not say (then a GET tells).
Result<std::optional<Digest>> RemoteRepository::headManifest(const Call& call, const std::string& name,
                                                             const std::string& tag) {
  auto res = upstream_.request("HEAD", name, "manifests/" + tag, manifestAccept(), call.suspender);
  if (!res) return tl::unexpected(res.error());
  int s = (*res)->status;
  if (s == 404 || s == 401 || s == 403) return std::optional<Digest>();
  if (s != 200) return tl::unexpected(upstream_.errorFor(**res, ErrorCode::ManifestUnknown, "manifest " + tag));
  auto d = Digest::parse((*res)->header("Docker-Content-Digest"));
  if (!d) return std::optional<Digest>();
  return std::optional<Digest>(*d);
}

Result<StoredManifest> RemoteRepository::fetchManifest(const Call& call, const std::string& name,
                                                       const Reference& ref) {
  auto res = upstream_.request("GET", name, "manifests/" + ref.str(), manifestAccept(), call.suspender);
  if (!res) return tl::unexpected(res.error());
  if ((*res)->status != 200)
    return tl::unexpected(upstream_.errorFor(**res, ErrorCode::ManifestUnknown, "manifest " + ref.str()));
  auto bytes = (*res)->readAll(kMaxManifestBytes);
  if (!bytes) return tl::unexpected(bytes.error());
  Digest digest = Sha256::of(*bytes);
  auto mismatch = [&] {
    return fail(ErrorCode::Unavailable, "upstream " + upstream_.host() + " sent a manifest that does not match its digest",
                ref.str());
  };
  if (ref.isDigest() && ref.digest != digest) return mismatch();
  if (auto said = Digest::parse((*res)->header("Docker-Content-Digest")); said && said->str().rfind("sha256:", 0) == 0 &&
                                                                             *said != digest)
    return mismatch();
  std::string media_type = mediaTypeOf(**res);
  auto parsed = parseManifest(media_type, *bytes);
  if (!parsed) {
    // Served as the upstream sent it, but not cached: Berth could not
    // account for what it references (schema 1, say).
    spdlog::warn("remote {}: not caching {}:{} from {}: {}", key(), name, ref.str(), upstream_.host(),
                 parsed.error().detail.empty() ? parsed.error().message : parsed.error().detail);
    return StoredManifest{digest, media_type, std::move(*bytes)};
  }
  for (std::size_t i = 0; i < parsed->blobs.size(); ++i) sizes_.note(name, parsed->blobs[i], parsed->blob_sizes[i]);
  storage::ManifestWrite w;
  w.record = {key(), name, digest, parsed->media_type, bytes->size(), parsed->subject, parsed->artifact_type,
              parsed->annotations, 0};
  w.blobs = parsed->blobs;
  w.manifests = parsed->manifests;
  if (!ref.isDigest()) w.tag = ref.tag;
  {
    auto fence = blobs_->fence().writer();  // from the bytes to their record (docs/design.md, "Garbage collection")
    if (auto stored = blobs_->putBytes(*bytes); !stored) return tl::unexpected(stored.error());
    if (auto st = meta_->putManifest(w); !st) return tl::unexpected(st.error());
  }
  noteForeignLayers(name, parsed->media_type, *bytes, /*prefetch=*/true);
  return StoredManifest{digest, parsed->media_type, std::move(*bytes)};
}

Result<PutManifestResult> RemoteRepository::putManifest(const Call&, const std::string&, const Reference&,
                                                        const std::string&, const std::string&) {
  return readOnly();
}

Result<std::optional<Digest>> RemoteRepository::resolveTag(const Call&, const std::string& name,
                                                           const std::string& tag) {
  return meta_->resolveTag(key(), name, tag);
}

Status RemoteRepository::deleteManifest(const Call&, const std::string& name, const Reference& ref) {
  return removeManifestOrTag(*meta_, key(), name, ref);
}

// --- listings ----------------------------------------------------------------

Result<storage::Page> RemoteRepository::listTags(const Call& call, const std::string& name, const std::string& last,
                                                 std::size_t n) {
  std::optional<Error> upstream_error;
  if (!settings_.remote.offline) {
    std::string suffix = "tags/list?n=" + std::to_string(n);
    // `last` is the client's, not necessarily a tag: escaped, it stays one parameter.
    if (!last.empty()) suffix += "&last=" + percentEncode(last);
    // Clients asking for the same page at once share one upstream request.
    auto page = tag_flights_.run(name + " " + suffix, call,
                                 [&] { return fetchTagList(upstream_, call, name, suffix, n); });
    if (page) {
      // An upstream that ignores `last` would send the client round in
      // circles: only what comes after it, sorted, and no "more" after nothing.
      auto& items = page->items;
      std::sort(items.begin(), items.end());
      if (!last.empty()) items.erase(items.begin(), std::upper_bound(items.begin(), items.end(), last));
      if (items.empty()) page->more = false;
      return page;
    }
    upstream_error = page.error();
  }
  auto exists = meta_->imageExists(key(), name);
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) {
    if (upstream_error) return tl::unexpected(*upstream_error);
    return fail(ErrorCode::NameUnknown, "repository name not known to registry", key() + "/" + name);
  }
  return meta_->listTags(key(), name, last, n);
}

Result<ReferrersResult> RemoteRepository::referrers(const Call&, const std::string& name, const Digest& subject,
                                                    const std::string& artifact_type) {
  return referrersIndex(*meta_, key(), name, subject, artifact_type);
}

Result<storage::Page> RemoteRepository::listImages(const Call&, const std::string& last, std::size_t n) {
  return imagesOf(*meta_, key(), last, n);
}

}  // namespace berth::repo::remote
