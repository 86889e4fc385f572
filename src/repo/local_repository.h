// A local repository: content stored on this server. Blobs live once in the
// global BlobStore; this repository's view of them is its links in the
// MetadataStore.
#pragma once

#include "berth/repo/repository.h"
#include "repo/upload_store.h"

namespace berth::repo {

// The OCI referrers index of `subject` from what the metadata store knows
// (every repository type answers referrers from its stored manifests).
Result<ReferrersResult> referrersIndex(storage::MetadataStore& meta, const std::string& key, const std::string& name,
                                       const Digest& subject, const std::string& artifact_type);

// By digest: the manifest and its tags; by tag: the tag (MANIFEST_UNKNOWN
// when absent).
Status removeManifestOrTag(storage::MetadataStore& meta, const std::string& key, const std::string& name,
                           const Reference& ref);
// The images of repository `key` (names without the key), after `last`.
Result<storage::Page> imagesOf(storage::MetadataStore& meta, const std::string& key, const std::string& last,
                               std::size_t n);

class LocalRepository final : public Repository {
 public:
  LocalRepository(config::Repository settings, storage::BlobStorePtr blobs, storage::MetadataStorePtr meta,
                  std::shared_ptr<UploadStore> uploads);

  const config::Repository& settings() const override { return settings_; }

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
  Result<storage::Page> listTags(const Call& call, const std::string& name, const std::string& last, std::size_t n) override;
  Result<ReferrersResult> referrers(const Call& call, const std::string& name, const Digest& subject,
                                    const std::string& artifact_type) override;
  Result<storage::Page> listImages(const Call& call, const std::string& last, std::size_t n) override;

 private:
  Result<Digest> resolve(const std::string& name, const Reference& ref);

  config::Repository settings_;
  storage::BlobStorePtr blobs_;
  storage::MetadataStorePtr meta_;
  std::shared_ptr<UploadStore> uploads_;
};

}  // namespace berth::repo
