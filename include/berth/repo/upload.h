// A resumable blob upload session. Bytes are hashed as they are written, so
// committing never reads the data back -- except after a restart, when the
// hash state is gone and the partial file is re-hashed once.
//
// Descriptors: the data file is open only while a request holds the session
// (a Lease), never between requests. An abandoned session costs its row, its
// file and a few hundred bytes of memory; no descriptor.
//
// Last activity: the data file's mtime. Writes move it, and every request
// that held the session moves it when it lets go; it survives a restart, so
// the purger expires sessions by idleness, not age.
//
// Thread safety: one request at a time per session (acquire()); every other
// method needs the caller to hold the Lease. A session ends once (committed,
// cancelled or purged); a request that obtains it afterwards gets
// BLOB_UPLOAD_UNKNOWN.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "berth/core/error.h"
#include "berth/core/sha256.h"

namespace berth::repo {

class RecentPages;

class UploadSession {
 public:
  // Exclusive use of the session for one request. Letting go closes the data
  // file and records the activity.
  class Lease {
   public:
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease() { unlock(); }
    bool owns_lock() const { return lock_.owns_lock(); }
    // Lets go early (before answering, so the client's next request is not kept waiting).
    void unlock();

   private:
    friend class UploadSession;
    Lease(UploadSession* s, std::unique_lock<std::timed_mutex> lock) : s_(s), lock_(std::move(lock)) {}
    UploadSession* s_;
    std::unique_lock<std::timed_mutex> lock_;
  };

  // resumable: recorded in the metadata store (a monolithic upload is not).
  // recent: where windows on disk go (kept cached up to its budget); none:
  // each is dropped from the page cache at once.
  UploadSession(std::string uuid, std::string repo, std::string name, std::string path, uint64_t offset,
                bool hash_valid, bool resumable, std::shared_ptr<RecentPages> recent = nullptr);
  ~UploadSession();
  UploadSession(const UploadSession&) = delete;
  UploadSession& operator=(const UploadSession&) = delete;

  const std::string& uuid() const { return uuid_; }
  const std::string& repo() const { return repo_; }
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  uint64_t offset() const { return offset_; }
  bool resumable() const { return resumable_; }

  // Clients send the next chunk as soon as they read our answer, which can be
  // a moment before the previous request's handler has returned: wait a
  // little rather than refuse (BLOB_UPLOAD_INVALID after 10 s). `pause` is
  // how the caller waits between attempts (an HTTP request suspends its
  // coroutine, so that waiting holds no worker thread); by default the
  // calling thread sleeps. BLOB_UPLOAD_UNKNOWN when the session has ended.
  using Pause = std::function<void(std::chrono::milliseconds)>;
  Result<Lease> acquire(const Pause& pause = {});
  // For the purger: no waiting; empty when busy.
  std::optional<Lease> tryAcquire();

  // Appends and hashes. On a write error the file is truncated back to the
  // last good offset so the session stays consistent. BLOB_UPLOAD_UNKNOWN
  // when the session has ended or its file is gone.
  Status append(const char* data, std::size_t size);
  // Appends without hashing, for a caller that hashes what it appends on
  // another thread (a remote repository's fetch) and gives the digest with
  // setDigest(); without it, digest() re-hashes the file.
  Status appendUnhashed(const char* data, std::size_t size);
  // The digest of everything appended so far, computed by the caller.
  void setDigest(const Digest& d);
  // The digest of everything appended (re-hashing from disk if needed).
  Result<Digest> digest();
  // Marks the session ended and closes its file (the upload store ends it).
  void end();
  bool ended() const { return ended_; }

 private:
  Status write(const char* data, std::size_t size);
  Status openFile();
  void closeFile();
  void release();  // by the Lease
  void startWriteback();

  std::string uuid_, repo_, name_, path_;
  int fd_ = -1;  // open only while a Lease is held
  uint64_t offset_;
  uint64_t written_back_;  // writeback started up to here
  uint64_t released_;      // on disk and handed to recent_ (or dropped from the page cache) up to here
  std::shared_ptr<RecentPages> recent_;
  bool hash_valid_;
  std::optional<Digest> given_digest_;  // setDigest(), until the next append
  const bool resumable_;
  bool ended_ = false;
  Sha256 hasher_;
  std::timed_mutex busy_;
};
using UploadSessionPtr = std::shared_ptr<UploadSession>;

}  // namespace berth::repo
