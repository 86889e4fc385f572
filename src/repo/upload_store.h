// Upload sessions of every repository: live ones in memory (with their hash
// state), all of them in the metadata store so that they survive a restart.
// Data files live at Paths::upload(uuid); none is kept open between requests
// (see berth/repo/upload.h).
//
// A session ends exactly once, under its lock: commit, cancel or purge mark it
// ended, remove its file and row, and only then forget it, so a request that
// raced with the end finds either the ended session or nothing
// (BLOB_UPLOAD_UNKNOWN either way).
//
// Thread safety: all methods may be called concurrently (one mutex for the map,
// one for admitting new sessions against the caps).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <mutex>

#include "berth/repo/upload.h"
#include "berth/storage/blob_store.h"
#include "berth/storage/metadata_store.h"
#include "repo/recent_pages.h"
#include "storage/paths.h"

namespace berth::repo {

// Open resumable sessions allowed at once; 0 = no limit.
struct UploadLimits {
  uint64_t per_repository = 0;
  uint64_t per_user = 0;  // anonymous callers together count as one user
  // The newest uploaded bytes kept in the page cache (recent_pages.h); 0:
  // every window is dropped once on disk.
  uint64_t page_cache_bytes = 0;
};

class UploadStore {
 public:
  UploadStore(storage::Paths paths, storage::MetadataStorePtr meta, storage::BlobStorePtr blobs,
              UploadLimits limits = {});

  // resumable: record the session in the metadata store (survives a restart,
  // counts against the caps: TOOMANYREQUESTS beyond them, with the seconds to
  // wait as its detail).
  Result<UploadSessionPtr> start(const std::string& repo, const std::string& name, const std::string& user,
                                 bool resumable = true);
  // BLOB_UPLOAD_UNKNOWN unless the session exists and belongs to repo/name.
  Result<UploadSessionPtr> find(const std::string& repo, const std::string& name, const std::string& uuid);
  // Caller holds the session's Lease. Verifies, installs into the blob store,
  // links, ends the session. `verified` (if any) is called once the content
  // matched `expected`, before the install makes it durable.
  Result<uint64_t> commit(const UploadSessionPtr& s, const Digest& expected,
                          const std::function<void()>& verified = {});
  // Caller holds the session's Lease.
  Status cancel(const UploadSessionPtr& s);
  // Ends sessions whose last activity (see upload.h) is before the cutoff
  // (unix seconds). A session in use by a request is active: skipped.
  // Returns how many were removed (dry_run: would be, nothing is).
  std::size_t purgeIdleSince(int64_t cutoff, bool dry_run = false);
  // Ends every session of the repository that no request is using (a
  // repository deleted through the API). Returns how many.
  std::size_t endSessionsOf(const std::string& repo);
  // Removes data files that belong to no session (a crash between creating
  // the file and recording the session) and were last written before
  // idle_before (unix seconds). At start every such file goes; online (GC)
  // only idle ones, since sessions without a row (a remote's fetch, a
  // monolithic upload) are writing theirs. Returns how many.
  std::size_t removeOrphanFiles(int64_t idle_before = std::numeric_limits<int64_t>::max(), bool dry_run = false);

 private:
  // The one live object for a recorded session (revived from its row and file
  // after a restart); BLOB_UPLOAD_UNKNOWN when either is gone.
  Result<UploadSessionPtr> live(const std::string& uuid, const storage::UploadRecord* known);
  Status admit(const std::string& repo, const std::string& user);
  // Ends s (its Lease held): removes its file (unless consumed) and row
  // (unless gone with the commit), forgets it.
  Status finish(const UploadSessionPtr& s, bool remove_file, bool remove_row = true);
  // Ends the sessions `pick` chooses (it sees each row and its file's path)
  // that no request is using; `pick` is asked again once the session is held.
  std::size_t endWhere(const std::function<bool(const storage::UploadRecord&, const std::string& path)>& pick,
                       bool dry_run);

  storage::Paths paths_;
  storage::MetadataStorePtr meta_;
  storage::BlobStorePtr blobs_;
  UploadLimits limits_;
  std::shared_ptr<RecentPages> recent_;  // shared with every session
  std::mutex mu_;        // live_, and reviving sessions from the metadata store
  std::mutex admit_mu_;  // counting and recording new sessions as one step
  std::map<std::string, UploadSessionPtr> live_;
};

}  // namespace berth::repo
