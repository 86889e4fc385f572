// A virtual repository: one URL over local, remote and other virtual
// repositories (docs/virtual-repositories.md). It stores nothing of its own:
// - Reads go to the members in resolution order. A member's *_UNKNOWN means
//   "try the next"; any other failure (a remote's 503) is remembered but does
//   not hide a later member's hit, and is answered only when nobody has it.
//   A member the caller may not read is skipped as if it had nothing.
// - With resolve_tags_by_latest_timestamp, a tag that several local members
//   have is served from the one pushed last; otherwise the order decides.
// - tags/list and the catalog merge the members' answers, sorted and
//   de-duplicated; referrers merge too (an unknown subject has none).
// - Writes (uploads, mounts, manifests, deletes) go to the default
//   deployment repository, with the caller's right there; none: 405.
//
// Thread-safe: members are fixed once bound (a reload binds a new object to
// the new snapshot, server/repository_set.h), every call is forwarded.
#pragma once

#include <vector>

#include "berth/repo/repository.h"

namespace berth::repo {

struct ParsedManifest;  // repo/manifest_parser.h

class VirtualRepository final : public Repository {
 public:
  VirtualRepository(config::Repository settings, storage::MetadataStorePtr meta);
  // Resolves member keys once every repository exists (virtual members may be
  // defined after this one). Throws when a member is missing (config
  // validation has refused that already).
  void bind(const RepositoryRegistry& registry);

  const config::Repository& settings() const override { return settings_; }
  Repository* writeTarget() override { return deployment_ ? deployment_->writeTarget() : nullptr; }

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
  // The members `call` may read `name` of (all of them for an empty name).
  std::vector<Repository*> readable(const Call& call, const std::string& name) const;
  // The deployment repository when the caller may do `action` there.
  Result<Repository*> deployment(const Call& call, const std::string& name, auth::Action action) const;
  // With resolve_tags_by_latest_timestamp: the local member whose `tag` was
  // pushed last, or null when no readable local member has it.
  Result<Repository*> latestLocal(const Call& call, const std::string& name, const std::string& tag) const;

  // Links into `target` what `manifest` needs and another member has: blobs,
  // and the child manifests of an index (depth 0) with their blobs.
  void adopt(const Call& call, Repository& target, const std::string& name, const ParsedManifest& manifest,
             int depth);
  bool adoptBlob(const Call& call, Repository& target, Repository& member, const std::string& name, const Digest& d);

  config::Repository settings_;
  storage::MetadataStorePtr meta_;
  std::vector<Repository*> members_;  // resolution order; owned by the registry
  Repository* deployment_ = nullptr;  // owned by the registry; null = pushes refused
};

}  // namespace berth::repo
