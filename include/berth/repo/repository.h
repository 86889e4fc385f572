// A repository: one registry of its own inside Berth, addressed by its key.
// Local repositories store content here; remote (pull-through cache) and
// virtual (aggregating) repositories implement the same contract later, so
// the HTTP layer never knows which kind it talks to.
//
// Thread safety: all methods may be called concurrently.
// Names passed in are already validated against the spec's grammar.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "berth/config.h"
#include "berth/core/reference.h"
#include "berth/repo/call.h"
#include "berth/repo/upload.h"
#include "berth/storage/blob_store.h"
#include "berth/storage/metadata_store.h"

namespace berth::repo {

struct StoredManifest {
  Digest digest;
  std::string media_type;
  std::string bytes;
};

struct PutManifestResult {
  Digest digest;
  std::string subject;  // the subject's digest when the manifest has one (OCI-Subject)
};

struct ReferrersResult {
  std::string index_json;
  bool filtered = false;  // OCI-Filters-Applied: artifactType
};

inline constexpr std::size_t kMaxManifestBytes = 4 * 1024 * 1024;

class Repository {
 public:
  virtual ~Repository() = default;
  virtual const config::Repository& settings() const = 0;
  const std::string& key() const { return settings().key; }
  // The repository that stores what is written through this one: itself, a
  // virtual repository's deployment repository, or null when writes are
  // refused. Checks before a write (does this tag exist already?) ask it,
  // not the union of members a read would see.
  virtual Repository* writeTarget() { return this; }

  // Blobs served only when this repository links them. BLOB_UNKNOWN otherwise.
  virtual Result<storage::BlobInfo> statBlob(const Call& call, const std::string& name, const Digest& d) = 0;
  virtual Result<storage::BlobReaderPtr> openBlob(const Call& call, const std::string& name, const Digest& d) = 0;
  // Unlinks from this repository only. BLOB_UNKNOWN when not linked.
  virtual Status deleteBlob(const Call& call, const std::string& name, const Digest& d) = 0;
  // Links a blob that `source` links under `source_name`; false when it does not.
  virtual Result<bool> mountBlob(const Call& call, const std::string& name, const Digest& d, Repository& source,
                                 const std::string& source_name) = 0;

  // Uploads. BLOB_UPLOAD_UNKNOWN for an unknown id, one of another image, or
  // one that has ended. user: who starts it (the per-user cap).
  // resumable: the session is recorded, survives a restart and counts against
  // the caps (TOOMANYREQUESTS beyond them); false for a monolithic upload,
  // whose id the client never sees.
  virtual Result<UploadSessionPtr> startUpload(const Call& call, const std::string& name, const std::string& user,
                                               bool resumable = true) = 0;
  virtual Result<UploadSessionPtr> findUpload(const Call& call, const std::string& name, const std::string& uuid) = 0;
  // The caller holds the session's Lease for both.
  // Verifies the digest (DIGEST_INVALID, nothing stored, session ended),
  // installs the blob and links it. The session ends either way.
  virtual Status commitUpload(const Call& call, const UploadSessionPtr& upload, const Digest& expected) = 0;
  virtual Status cancelUpload(const Call& call, const UploadSessionPtr& upload) = 0;

  // Manifests. MANIFEST_UNKNOWN when absent.
  virtual Result<StoredManifest> getManifest(const Call& call, const std::string& name, const Reference& ref) = 0;
  // Validates (MANIFEST_INVALID, MANIFEST_BLOB_UNKNOWN, DIGEST_INVALID) and stores.
  virtual Result<PutManifestResult> putManifest(const Call& call, const std::string& name, const Reference& ref,
                                                const std::string& content_type, const std::string& bytes) = 0;
  // The digest a tag points to, if the tag exists.
  virtual Result<std::optional<Digest>> resolveTag(const Call& call, const std::string& name, const std::string& tag) = 0;
  // By digest: the manifest and its tags; by tag: only the tag.
  virtual Status deleteManifest(const Call& call, const std::string& name, const Reference& ref) = 0;
  virtual Result<storage::Page> listTags(const Call& call, const std::string& name, const std::string& last, std::size_t n) = 0;
  virtual Result<ReferrersResult> referrers(const Call& call, const std::string& name, const Digest& subject,
                                            const std::string& artifact_type) = 0;
  // Image names within this repository (without the key prefix).
  virtual Result<storage::Page> listImages(const Call& call, const std::string& last, std::size_t n) = 0;
};
using RepositoryPtr = std::shared_ptr<Repository>;

// All repositories by key: one snapshot, immutable once built. A reload
// builds another and swaps it in (repo/live_repositories.h).
class RepositoryRegistry {
 public:
  void add(RepositoryPtr repo) { repos_.push_back(std::move(repo)); }
  Repository* find(std::string_view key) const {
    for (const auto& r : repos_)
      if (r->key() == key) return r.get();
    return nullptr;
  }
  const std::vector<RepositoryPtr>& all() const { return repos_; }

 private:
  std::vector<RepositoryPtr> repos_;
};

}  // namespace berth::repo
