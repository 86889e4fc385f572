// Everything about repositories that is not blob content: which blobs each
// image links, manifests and what they reference, tags, upload sessions.
// Keys are (repo = repository key, name = image name inside it).
//
// Thread safety: every method may be called concurrently; each is one
// transaction. Errors: only storage failures (UNKNOWN/UNAVAILABLE); "not
// found" is an empty optional or false, never an error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/core/digest.h"
#include "berth/core/error.h"

namespace berth::storage {

struct ManifestRecord {
  std::string repo, name;
  Digest digest;
  std::string media_type;
  uint64_t size = 0;
  std::string subject;        // digest string of the subject, or empty
  std::string artifact_type;  // artifactType, else config.mediaType (for referrers)
  std::string annotations;    // JSON object text, or empty
  int64_t created = 0;        // unix seconds
  // The last pull recorded (remote caches' cache_retention_hours), unix
  // seconds; 0 = none since it was stored (then `created` counts as its use).
  // Read by manifest(); written only by markManifestUsed.
  int64_t used = 0;
};

// Pulls are recorded to within this (markManifestUsed): a manifest pulled
// all the time is written once per period, not once per pull. The eviction
// adds it to its cutoff, so that nothing goes before its time.
constexpr int64_t kManifestUseResolutionSeconds = 300;

// What evictUnusedCache removed (or, in a dry run, would remove).
struct CacheEviction {
  uint64_t manifests = 0, tags = 0;
  uint64_t images = 0;  // images it touched (some may keep what is still in use)
};

// Max unique tags (docs/lifecycle.md): when a tag write leaves an image with
// more than `max` tags, its oldest tags by push order are removed in the same
// transaction, then the manifests nothing in the image references any more.
// Never a protected tag, nor one the same operation wrote. 0 = no limit.
struct TagLimit {
  std::size_t max = 0;
  std::vector<std::string> protected_tags;
};

struct ManifestWrite {
  ManifestRecord record;
  std::vector<Digest> blobs;      // config + layers (+ subject is not a ref)
  std::vector<Digest> manifests;  // children of an index
  std::optional<std::string> tag;
  TagLimit limit;                 // applies when `tag` is set
  // Checked in the write's transaction: every blob linked in the image and
  // every child manifest present, so that a concurrent delete that pruned
  // one cannot leave a manifest whose references are gone (a remote's cache
  // stores manifests before their layers and does not ask).
  bool require_references = false;
};

struct PutManifestOutcome {
  std::string missing;               // with require_references: a reference absent (nothing written)
  std::vector<std::string> evicted;  // tags the TagLimit removed
};

// A promotion (docs/lifecycle.md): manifest records, their references, the
// links of the blobs they reference and tags are copied from one image to
// another, in one transaction; no blob content is touched.
struct PromoteSpec {
  std::string from_repo, from_name, to_repo, to_name;
  std::optional<std::string> tag;  // absent: every tag and manifest of the image
  std::string target_tag;          // with `tag`: the tag written in the target (empty: the same)
  bool move = false;               // then removed from the source (tags, and what they alone referenced)
  bool allow_overwrite = false;    // may repoint a target tag that names another manifest
  TagLimit limit;                  // the target's
};

enum class PromoteStatus {
  Done,
  ImageUnknown,      // the source image has no manifest
  TagUnknown,        // the source tag does not exist
  Incomplete,        // the source lacks a child manifest or a blob link (a remote's partial cache)
  OverwriteRefused,  // a target tag names another manifest and allow_overwrite is false
};

struct PromoteOutcome {
  PromoteStatus status = PromoteStatus::Done;
  std::string detail;  // the missing digest or tag, the tag that would be overwritten
  std::vector<std::pair<std::string, Digest>> tags;  // tags written in the target
  std::vector<std::string> overwritten;              // of those, the ones that named another manifest
  std::vector<std::string> evicted;                  // target tags removed by its TagLimit
  std::size_t manifests = 0, blobs = 0;              // records and links the promotion carried
};

struct TagRecord {
  Digest digest;
  int64_t updated = 0;  // unix seconds: pushed, or (remote repositories) last confirmed upstream
};

struct UploadRecord {
  std::string uuid, repo, name;
  int64_t created = 0;
  std::string owner;  // the user who started it ("anonymous" for anonymous callers)
};

struct UploadCounts {
  uint64_t in_repo = 0;   // open sessions in the repository
  uint64_t by_owner = 0;  // open sessions of the owner, in every repository
};

// Garbage collection (docs/design.md, "Garbage collection"). Every blob file
// has a record with the last time it was installed or linked ("touched"):
// linkBlob, linkUploadedBlob and putManifest (for the manifest's own digest)
// write it in their transaction; a file GC finds without one gets one.
struct GcScan {
  std::vector<std::pair<Digest, uint64_t>> candidates;  // unreferenced, touched at or before the cutoff
  std::string last;  // the last digest scanned: the next scan's `after`; empty when the scan reached the end
};

struct Page {
  std::vector<std::string> items;
  bool more = false;  // another page follows the last item
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // An image is known (imageExists, listImages) while it has a tag, a manifest
  // or a blob link: linking or putting makes it known, and the delete that
  // removes its last one forgets it in the same transaction.

  // Blob links. linkBlob also makes the image known (catalog).
  virtual Status linkBlob(const std::string& repo, const std::string& name, const Digest& d, uint64_t size) = 0;
  // The end of an upload session: linkBlob and deleteUpload(uuid) in one transaction.
  virtual Status linkUploadedBlob(const std::string& uuid, const std::string& repo, const std::string& name,
                                  const Digest& d, uint64_t size) = 0;
  virtual Result<std::optional<uint64_t>> linkedBlobSize(const std::string& repo, const std::string& name,
                                                         const Digest& d) = 0;
  virtual Result<bool> unlinkBlob(const std::string& repo, const std::string& name, const Digest& d) = 0;

  // Manifests. putManifest stores the record, its references and the tag in
  // one transaction, with the tag limit applied.
  virtual Result<PutManifestOutcome> putManifest(const ManifestWrite& write) = 0;
  virtual Result<std::optional<ManifestRecord>> manifest(const std::string& repo, const std::string& name,
                                                         const Digest& d) = 0;
  // Removes the manifest and every tag pointing to it. False when absent.
  virtual Result<bool> deleteManifest(const std::string& repo, const std::string& name, const Digest& d) = 0;
  virtual Result<std::vector<ManifestRecord>> referrers(const std::string& repo, const std::string& name,
                                                        const Digest& subject) = 0;
  // A pull of this manifest (as manifest() returned it): records now as its
  // last use when the recorded one is older than kManifestUseResolutionSeconds,
  // else nothing at all (no write on most pulls). A manifest removed meanwhile
  // stays removed. Not content: no fsync of its own (as createUpload).
  virtual Status markManifestUsed(const ManifestRecord& m) = 0;

  // Tags.
  virtual Result<std::optional<Digest>> resolveTag(const std::string& repo, const std::string& name,
                                                   const std::string& tag) = 0;
  virtual Result<std::optional<TagRecord>> tagRecord(const std::string& repo, const std::string& name,
                                                     const std::string& tag) = 0;
  // Sets the tag's updated time to now; false when the tag does not exist.
  virtual Result<bool> touchTag(const std::string& repo, const std::string& name, const std::string& tag) = 0;
  virtual Result<bool> deleteTag(const std::string& repo, const std::string& name, const std::string& tag) = 0;
  // Sorted; the tags after `last`, at most n.
  virtual Result<Page> listTags(const std::string& repo, const std::string& name, const std::string& last,
                                std::size_t n) = 0;

  // Lifecycle (docs/lifecycle.md). Each is one transaction, all or nothing.
  // Pruning: a manifest that no tag and no index of the image references any
  // more is removed with its references, then (in turn) its children and
  // referrers nothing else holds; links of blobs that no remaining manifest of
  // the image references are removed. A manifest pushed by digest alone is
  // never a candidate: only what a removed tag or manifest pointed to is.
  virtual Result<PromoteOutcome> promote(const PromoteSpec& spec) = 0;
  // Removes the tag, then prunes. False when the tag does not exist.
  virtual Result<bool> deleteTagAndPrune(const std::string& repo, const std::string& name, const std::string& tag) = 0;
  // Removes the image: every tag, manifest and blob link. False when unknown.
  virtual Result<bool> deleteImage(const std::string& repo, const std::string& name) = 0;
  // A remote cache's retention (cache_retention_hours): in each image of
  // `repo`, the manifests last used (or, never used, stored) at or before
  // `cutoff` lose their tags and are pruned as above, except those an index
  // still in use lists and those used after the cutoff (a platform pulled by
  // digest). One transaction per image, so a pull racing it sees the image
  // before or after. dry_run: counts the same, in transactions rolled back.
  virtual Result<CacheEviction> evictUnusedCache(const std::string& repo, int64_t cutoff, bool dry_run) = 0;

  // Images ("<repo>/<name>"), sorted. repo empty = all repositories.
  virtual Result<bool> imageExists(const std::string& repo, const std::string& name) = 0;
  virtual Result<Page> listImages(const std::string& repo, const std::string& last, std::size_t n) = 0;

  // Upload sessions (the data lives in the upload store's files). A session
  // is not content: creating one does not wait for the disk even when
  // commits otherwise do (its data is not fsynced before the commit either;
  // after a power loss the client restarts the upload, as after an expiry).
  virtual Status createUpload(const UploadRecord& u) = 0;
  virtual Result<std::optional<UploadRecord>> upload(const std::string& uuid) = 0;
  virtual Status deleteUpload(const std::string& uuid) = 0;
  virtual Result<std::vector<UploadRecord>> uploads() = 0;
  virtual Result<UploadCounts> countUploads(const std::string& repo, const std::string& owner) = 0;

  // Garbage collection. A blob is referenced while any repository (local or
  // a remote's cache) has a manifest with its digest or a manifest that names
  // it (manifest_refs). A link alone keeps it only while its record is not
  // older than the cutoff (every link touches the record): a blob uploaded
  // whose manifest never came goes after the grace period, links and all.
  // Looks at no more than `limit` blob records after `after` (digest text,
  // "" = from the start), in digest order: short, so writers are not held up.
  virtual Result<GcScan> scanGcCandidates(int64_t cutoff, const std::string& after, std::size_t limit) = 0;
  // In one transaction: forgets each blob that is still unreferenced and
  // touched at or before `cutoff`, with every link to it (an image left
  // empty is forgotten too); returns those forgotten. The caller holds the
  // fence exclusively and then removes their files.
  virtual Result<std::vector<Digest>> forgetUnreferencedBlobs(const std::vector<Digest>& digests, int64_t cutoff) = 0;
  // Of these blobs (hex digests), the ones without a record.
  virtual Result<std::vector<std::string>> unrecordedBlobs(const std::vector<std::string>& hexes) = 0;
  // Records touched now, for files found without one (kept where one
  // exists), in one transaction.
  virtual Status recordBlobs(const std::vector<std::pair<Digest, uint64_t>>& blobs) = 0;
  // Whether a manifest references it (links not counted: see above).
  virtual Result<bool> blobReferenced(const Digest& d) = 0;
};
using MetadataStorePtr = std::shared_ptr<MetadataStore>;

}  // namespace berth::storage
