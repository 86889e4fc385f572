// The file side of `berth fsck` (fsck.h): a walk of the blob store that
// stats (and unless quick, hashes) every blob file, and looks for stray files
// in blobs/, tmp/ and uploads/. Internal to src/ops/fsck*.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ops/fsck.h"
#include "storage/paths.h"

namespace berth::ops::fsck_detail {

struct BlobFile {
  enum class State { Unhashed, Ok, Mismatch, Unreadable };
  uint64_t size = 0;
  State state = State::Unhashed;
  std::string note;  // Mismatch: the digest of the content; Unreadable: the error
};

struct BlobStoreScan {
  std::unordered_map<std::string, BlobFile> blobs;  // by hex digest; files that vanished mid-walk are left out
  std::vector<FsckProblem> warnings;                // stray and stale files
  uint64_t bytes_hashed = 0;
};

// Walks the store. Error (Unavailable) only when blobs/sha256 cannot be listed.
Result<BlobStoreScan> scanBlobStore(const storage::Paths& paths, const std::set<std::string>& upload_ids,
                                    const FsckOptions& options);

struct HashedFile {
  std::string hex;
  uint64_t size = 0;
};
// SHA-256 of a file, streamed through one 1 MiB buffer (constant memory).
// nullopt when the file does not exist (any more); an Error for other I/O errors.
Result<std::optional<HashedFile>> hashFile(const std::string& path);

// The file's bytes when it holds at most max bytes; nullopt when it does not
// exist. Larger files: an Error (Unknown) saying so.
Result<std::optional<std::string>> readSmallFile(const std::string& path, uint64_t max);

// A file's size; nullopt when it does not exist.
Result<std::optional<uint64_t>> fileSize(const std::string& path);

// True for 64 lowercase hex characters.
bool isHexDigest(const std::string& s);

}  // namespace berth::ops::fsck_detail
