// A resumable blob upload session. Bytes are hashed as they are written, so
// committing never reads the data back -- except after a restart, when the
// hash state is gone and the partial file is re-hashed once.
//
// Thread safety: one request at a time per session (see lock()); a request
// that cannot get the session within 10 s gets BLOB_UPLOAD_INVALID.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "berth/core/error.h"
#include "berth/core/sha256.h"

namespace berth::repo {

class UploadSession {
 public:
  UploadSession(std::string uuid, std::string repo, std::string name, std::string path, int fd, uint64_t offset,
                bool hash_valid);
  ~UploadSession();
  UploadSession(const UploadSession&) = delete;
  UploadSession& operator=(const UploadSession&) = delete;

  const std::string& uuid() const { return uuid_; }
  const std::string& repo() const { return repo_; }
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  uint64_t offset() const { return offset_; }

  // Appends and hashes. On a write error the file is truncated back to the
  // last good offset so the session stays consistent.
  Status append(const char* data, std::size_t size);
  // The digest of everything appended (re-hashing from disk if needed).
  Result<Digest> digest();
  void closeFile();

  // Clients send the next chunk as soon as they read our answer, which can be
  // a moment before the previous request's handler has returned: wait a
  // little rather than refuse. Release the lock before answering.
  std::unique_lock<std::timed_mutex> lock() {
    return std::unique_lock<std::timed_mutex>(busy_, std::chrono::seconds(10));
  }

 private:
  void startWriteback();

  std::string uuid_, repo_, name_, path_;
  int fd_;
  uint64_t offset_;
  uint64_t written_back_;  // writeback started up to here
  uint64_t released_;      // on disk and dropped from the page cache up to here
  bool hash_valid_;
  Sha256 hasher_;
  std::timed_mutex busy_;
};
using UploadSessionPtr = std::shared_ptr<UploadSession>;

}  // namespace berth::repo
