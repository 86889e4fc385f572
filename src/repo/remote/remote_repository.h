// A remote repository: a caching pull-through proxy of another registry
// (docs/remote-repositories.md). What it fetched is ordinary content in the
// metadata and blob stores, under this repository's key, so it survives a
// restart and takes part in search, GC and promotion like pushed content.
//
// - Manifests by digest are immutable: cached once, never fetched again.
// - Manifests by tag: within metadata_ttl_seconds the cached answer; after it
//   a HEAD upstream (Docker Hub does not count HEADs against its pull limit)
//   keeps the cached bytes when the digest is unchanged, else a GET.
// - Blobs: from the cache when linked; else one shared fetch (BlobFetch).
// - Upstream down, slow, 429 or 5xx: the cached copy if any (a stale tag is
//   logged as stale), else the spec's error naming the upstream.
// - Pushes are refused (405 UNSUPPORTED); deletes evict from the cache.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "berth/repo/repository.h"
#include "repo/remote/blob_fetch.h"
#include "repo/remote/descriptor_sizes.h"
#include "repo/remote/single_flight.h"
#include "repo/remote/upstream.h"
#include "repo/upload_store.h"

namespace berth::http {
class HttpClient;
}

namespace berth::repo::remote {

class RemoteRepository final : public Repository {
 public:
  RemoteRepository(config::Repository settings, storage::BlobStorePtr blobs, storage::MetadataStorePtr meta,
                   std::shared_ptr<UploadStore> uploads, std::shared_ptr<http::HttpClient> client);
  // Stops fetches in flight and waits for them (they use this object).
  ~RemoteRepository() override;

  const config::Repository& settings() const override { return settings_; }
  Repository* writeTarget() override { return nullptr; }  // pushes are refused

  Result<storage::BlobInfo> statBlob(const Call& call, const std::string& name, const Digest& d) override;
  Result<storage::BlobReaderPtr> openBlob(const Call& call, const std::string& name, const Digest& d) override;
  Status deleteBlob(const Call& call, const std::string& name, const Digest& d) override;
  Result<bool> mountBlob(const Call& call, const std::string& name, const Digest& d, Repository& source,
                         const std::string& source_name) override;

  Result<UploadSessionPtr> startUpload(const Call& call, const std::string& name, const std::string& user,
                                       bool resumable = true) override;
  Result<UploadSessionPtr> findUpload(const Call& call, const std::string& name, const std::string& uuid) override;
  Status commitUpload(const Call& call, const UploadSessionPtr& upload, const Digest& expected) override;
  Status cancelUpload(const Call& call, const UploadSessionPtr& upload) override;

  Result<StoredManifest> getManifest(const Call& call, const std::string& name, const Reference& ref) override;
  Result<PutManifestResult> putManifest(const Call& call, const std::string& name, const Reference& ref,
                                        const std::string& content_type, const std::string& bytes) override;
  Result<std::optional<Digest>> resolveTag(const Call& call, const std::string& name, const std::string& tag) override;
  Status deleteManifest(const Call& call, const std::string& name, const Reference& ref) override;
  Result<storage::Page> listTags(const Call& call, const std::string& name, const std::string& last,
                                 std::size_t n) override;
  Result<ReferrersResult> referrers(const Call& call, const std::string& name, const Digest& subject,
                                    const std::string& artifact_type) override;
  Result<storage::Page> listImages(const Call& call, const std::string& last, std::size_t n) override;

 private:
  Result<StoredManifest> cached(const std::string& name, const Digest& d);
  Result<StoredManifest> byTag(const Call& call, const std::string& name, const std::string& tag);
  // GET upstream, verify, cache (with the tag when by tag).
  Result<StoredManifest> fetchManifest(const Call& call, const std::string& name, const Reference& ref);
  Result<std::optional<Digest>> headManifest(const Call& call, const std::string& name, const std::string& tag);
  // The blob is stored here (another repository has it): link it once the
  // upstream confirms it has it too, without downloading it again.
  Result<bool> linkIfUpstreamHas(const Call& call, const std::string& name, const Digest& d);
  // A fetch in flight for other image names is joined only once the upstream
  // confirms that `name` has the blob too (as for a blob stored here already).
  Status mayJoin(const Call& call, const std::string& name, const Digest& d);
  // linked (if given): set, and no fetch, when the blob is linked for name
  // by now (a fetch that just ended).
  BlobFetchPtr joinOrStartFetch(const std::string& name, const Digest& d, bool* linked = nullptr);
  // The fetch in flight for `d`, with `name` added to it, or null.
  BlobFetchPtr joinFetch(const std::string& name, const Digest& d);
  // Takes a fetch that ended out of fetches_ and the running count.
  void forgetFetch(const BlobFetchPtr& fetch);
  Result<std::unique_ptr<http::ClientResponse>> openUpstreamBlob(http::Suspender& self, const std::string& name,
                                                                 const Digest& d);
  tl::unexpected<Error> readOnly() const;
  // foreign_layers: notes the allowed URL of each foreign layer of a manifest
  // (prefetch: and starts caching it).
  void noteForeignLayers(const std::string& name, const std::string& media_type, const std::string& bytes,
                         bool prefetch);
  struct Foreign {
    std::string url;
    uint64_t size = 0;
  };
  // Only the image whose manifest declared the layer: another image's
  // manifest must not redirect this one's blobs to a URL of its choosing.
  std::optional<Foreign> foreignLayer(const std::string& name, const Digest& d);

  config::Repository settings_;
  storage::BlobStorePtr blobs_;
  storage::MetadataStorePtr meta_;
  std::shared_ptr<UploadStore> uploads_;
  std::shared_ptr<http::HttpClient> client_;
  Upstream upstream_;
  SingleFlight<StoredManifest> manifest_flights_;
  SingleFlight<storage::Page> tag_flights_;  // tags/list pages asked upstream, by name and query
  std::mutex fetch_mu_;
  std::map<std::string, BlobFetchPtr> fetches_;  // by digest, while in flight
  std::mutex foreign_mu_;
  std::map<std::string, Foreign> foreign_;  // by "<image>@<digest>": layers cached from their own URL
  DescriptorSizes sizes_;                   // of the blobs of the manifests fetched
  std::atomic<int> running_{0};                  // fetch coroutines not yet returned
  std::atomic<bool> stopping_{false};
};

}  // namespace berth::repo::remote
