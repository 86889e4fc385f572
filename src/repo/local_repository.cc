#include "repo/local_repository.h"

#include <nlohmann/json.hpp>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "berth/core/media_types.h"
#include "berth/core/sha256.h"
#include "core/json_input.h"
#include "repo/manifest_parser.h"

namespace berth::repo {
namespace {
tl::unexpected<Error> blobUnknown(const Digest& d) {
  return fail(ErrorCode::BlobUnknown, "blob unknown to registry", d.str());
}
tl::unexpected<Error> manifestUnknown(const std::string& ref) {
  return fail(ErrorCode::ManifestUnknown, "manifest unknown to registry", ref);
}
}  // namespace

Result<ReferrersResult> referrersIndex(storage::MetadataStore& meta, const std::string& key, const std::string& name,
                                       const Digest& subject, const std::string& artifact_type) {
  auto recs = meta.referrers(key, name, subject);
  if (!recs) return tl::unexpected(recs.error());
  nlohmann::json manifests = nlohmann::json::array();
  for (const auto& r : *recs) {
    if (!artifact_type.empty() && r.artifact_type != artifact_type) continue;
    nlohmann::json d{{"mediaType", r.media_type}, {"digest", r.digest.str()}, {"size", r.size}};
    if (!r.artifact_type.empty()) d["artifactType"] = r.artifact_type;
    // Stored by parseManifest as a flat string map; re-checked, never trusted.
    if (auto a = json_input::parse(r.annotations, ErrorCode::Unknown); !r.annotations.empty() && a && a->is_object())
      d["annotations"] = *a;
    manifests.push_back(std::move(d));
  }
  nlohmann::json index{{"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", std::move(manifests)}};
  return ReferrersResult{index.dump(), !artifact_type.empty()};
}

Status removeManifestOrTag(storage::MetadataStore& meta, const std::string& key, const std::string& name,
                           const Reference& ref) {
  if (!ref.isDigest()) {
    auto removed = meta.deleteTag(key, name, ref.tag);
    if (!removed) return tl::unexpected(removed.error());
    if (!*removed) return manifestUnknown(ref.tag);
    return {};
  }
  auto removed = meta.deleteManifest(key, name, ref.digest);
  if (!removed) return tl::unexpected(removed.error());
  if (!*removed) return manifestUnknown(ref.str());
  return {};
}

Result<storage::Page> imagesOf(storage::MetadataStore& meta, const std::string& key, const std::string& last,
                               std::size_t n) {
  auto page = meta.listImages(key, last.empty() ? std::string() : key + "/" + last, n);
  if (!page) return page;
  for (auto& item : page->items) item = item.substr(key.size() + 1);
  return page;
}

LocalRepository::LocalRepository(config::Repository settings, storage::BlobStorePtr blobs,
                                 storage::MetadataStorePtr meta, std::shared_ptr<UploadStore> uploads)
    : settings_(std::move(settings)), blobs_(std::move(blobs)), meta_(std::move(meta)), uploads_(std::move(uploads)) {}

Result<storage::BlobInfo> LocalRepository::statBlob(const Call&, const std::string& name, const Digest& d) {
  auto linked = meta_->linkedBlobSize(key(), name, d);
  if (!linked) return tl::unexpected(linked.error());
  if (!*linked) return blobUnknown(d);
  return blobs_->stat(d);
}

Result<storage::BlobReaderPtr> LocalRepository::openBlob(const Call&, const std::string& name, const Digest& d) {
  auto linked = meta_->linkedBlobSize(key(), name, d);
  if (!linked) return tl::unexpected(linked.error());
  if (!*linked) return blobUnknown(d);
  return blobs_->open(d);
}

Status LocalRepository::deleteBlob(const Call&, const std::string& name, const Digest& d) {
  auto removed = meta_->unlinkBlob(key(), name, d);
  if (!removed) return tl::unexpected(removed.error());
  if (!*removed) return blobUnknown(d);
  return {};
}

Result<bool> LocalRepository::mountBlob(const Call& call, const std::string& name, const Digest& d, Repository& source,
                                        const std::string& source_name) {
  // Any failure to find the blob in the source (a remote whose upstream is
  // down, say) means "cannot mount": the client then uploads it.
  auto info = source.statBlob(call, source_name, d);
  if (!info) return false;
  // A remote source answers statBlob from its upstream too: mount only what
  // is stored here. From that look to the committed link the sweep cannot
  // take the file (docs/design.md, "Garbage collection").
  auto fence = blobs_->fence().writer();
  if (auto stored = blobs_->stat(d); !stored) {
    if (stored.error().code == ErrorCode::BlobUnknown) return false;
    return tl::unexpected(stored.error());
  }
  if (auto st = meta_->linkBlob(key(), name, d, info->size); !st) return tl::unexpected(st.error());
  return true;
}

Result<UploadSessionPtr> LocalRepository::startUpload(const Call&, const std::string& name, const std::string& user,
                                                      bool resumable) {
  return uploads_->start(key(), name, user, resumable);
}

Result<UploadSessionPtr> LocalRepository::findUpload(const Call&, const std::string& name, const std::string& uuid) {
  return uploads_->find(key(), name, uuid);
}

Status LocalRepository::commitUpload(const Call&, const UploadSessionPtr& upload, const Digest& expected) {
  auto size = uploads_->commit(upload, expected);
  if (!size) return tl::unexpected(size.error());
  return {};
}

Status LocalRepository::cancelUpload(const Call&, const UploadSessionPtr& upload) { return uploads_->cancel(upload); }

Result<Digest> LocalRepository::resolve(const std::string& name, const Reference& ref) {
  if (ref.isDigest()) return ref.digest;
  auto d = meta_->resolveTag(key(), name, ref.tag);
  if (!d) return tl::unexpected(d.error());
  if (!*d) return manifestUnknown(ref.tag);
  return **d;
}

Result<StoredManifest> LocalRepository::getManifest(const Call&, const std::string& name, const Reference& ref) {
  auto digest = resolve(name, ref);
  if (!digest) return tl::unexpected(digest.error());
  auto rec = meta_->manifest(key(), name, *digest);
  if (!rec) return tl::unexpected(rec.error());
  if (!*rec) return manifestUnknown(ref.str());
  auto bytes = blobs_->readBytes(*digest, kMaxManifestBytes);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::BlobUnknown) return manifestUnknown(ref.str());
    return tl::unexpected(bytes.error());
  }
  return StoredManifest{*digest, (*rec)->media_type, std::move(*bytes)};
}

Result<PutManifestResult> LocalRepository::putManifest(const Call&, const std::string& name, const Reference& ref,
                                                       const std::string& content_type, const std::string& bytes) {
  auto parsed = parseManifest(content_type, bytes);
  if (!parsed) return tl::unexpected(parsed.error());
  Digest digest = Sha256::of(bytes);
  if (ref.isDigest() && ref.digest != digest)
    return fail(ErrorCode::DigestInvalid, "manifest digest did not match the reference",
                "content is " + digest.str() + ", URL says " + ref.digest.str());
  for (const auto& b : parsed->blobs) {
    auto linked = meta_->linkedBlobSize(key(), name, b);
    if (!linked) return tl::unexpected(linked.error());
    if (!*linked) return fail(ErrorCode::ManifestBlobUnknown, "blob unknown to registry", b.str());
  }
  for (const auto& m : parsed->manifests) {
    auto rec = meta_->manifest(key(), name, m);
    if (!rec) return tl::unexpected(rec.error());
    if (!*rec) return fail(ErrorCode::ManifestBlobUnknown, "manifest unknown to registry", m.str());
  }
  // The manifest's bytes are found or written, then recorded: the sweep must
  // not take them in between (docs/design.md, "Garbage collection").
  auto fence = blobs_->fence().writer();
  if (auto stored = blobs_->putBytes(bytes); !stored) return tl::unexpected(stored.error());
  storage::ManifestWrite w;
  w.record = {key(), name, digest, parsed->media_type, bytes.size(), parsed->subject, parsed->artifact_type,
              parsed->annotations, 0};
  w.blobs = parsed->blobs;
  w.manifests = parsed->manifests;
  if (!ref.isDigest()) w.tag = ref.tag;
  w.limit = {settings_.local.max_unique_tags, settings_.local.protected_tags};
  // The checks above ran outside the write: a delete may have pruned a link since.
  w.require_references = true;
  auto out = meta_->putManifest(w);
  if (!out) return tl::unexpected(out.error());
  if (!out->missing.empty())
    return fail(ErrorCode::ManifestBlobUnknown, "manifest references a manifest or blob unknown to registry",
                out->missing);
  if (!out->evicted.empty())
    spdlog::info("{}/{}: max_unique_tags {} removed tags {}", key(), name, settings_.local.max_unique_tags,
                 fmt::join(out->evicted, ", "));
  return PutManifestResult{digest, parsed->subject};
}

Result<std::optional<Digest>> LocalRepository::resolveTag(const Call&, const std::string& name, const std::string& tag) {
  return meta_->resolveTag(key(), name, tag);
}

Status LocalRepository::deleteManifest(const Call&, const std::string& name, const Reference& ref) {
  return removeManifestOrTag(*meta_, key(), name, ref);
}

Result<storage::Page> LocalRepository::listTags(const Call&, const std::string& name, const std::string& last, std::size_t n) {
  auto exists = meta_->imageExists(key(), name);
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) return fail(ErrorCode::NameUnknown, "repository name not known to registry", key() + "/" + name);
  return meta_->listTags(key(), name, last, n);
}

Result<ReferrersResult> LocalRepository::referrers(const Call&, const std::string& name, const Digest& subject,
                                                   const std::string& artifact_type) {
  return referrersIndex(*meta_, key(), name, subject, artifact_type);
}

Result<storage::Page> LocalRepository::listImages(const Call&, const std::string& last, std::size_t n) {
  return imagesOf(*meta_, key(), last, n);
}

}  // namespace berth::repo
