// One blob on its way from the upstream into a remote repository's cache,
// shared by every request that wants it meanwhile.
//
// The fetch runs in a coroutine of the outbound client's own (not in any
// request's), so a client that disconnects cancels nothing: the others keep
// reading, and the cache is completed. The bytes go to a non-resumable upload
// session; they are hashed on another thread while the next ones arrive
// (HashPipe), so receiving, writing and hashing overlap. Readers follow the
// session's file as it grows (a descriptor each, dup'ed from the fetch's
// own), woken as bytes are written (no polling), so a second client gets
// bytes as they arrive, not after the whole blob, and memory stays flat.
//
// Nothing wrong is ever served whole: the last byte is held back until the
// digest is verified (not until the cache is durable: only the link waits for
// that); on a mismatch the readers' connections are cut and nothing is
// linked. Completed, the blob is installed and linked for every image name
// that asked for it.
//
// Size: a body longer than expected is refused as it arrives -- expected is
// the upstream's Content-Length, else the size the blob's descriptor gave
// (when a manifest naming it was fetched), capped by Deps::max_bytes -- and
// one announced longer than that is refused before a byte is written. The
// partial file is removed, waiting readers get the error, nothing is cached.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "berth/core/digest.h"
#include "berth/core/error.h"
#include "berth/repo/call.h"
#include "berth/storage/blob_store.h"
#include "berth/storage/metadata_store.h"
#include "repo/notifier.h"
#include "repo/remote/hash_pipe.h"
#include "repo/upload_store.h"

namespace berth::http {
class ClientResponse;
class Suspender;
}  // namespace berth::http

namespace berth::repo::remote {

class BlobFetch : public std::enable_shared_from_this<BlobFetch> {
 public:
  struct Deps {
    std::string repo_key;
    std::string upstream_host;  // for messages
    storage::BlobStorePtr blobs;
    storage::MetadataStorePtr meta;
    std::shared_ptr<UploadStore> uploads;
    HashPipe::Post post;  // runs the hashing beside the fetch
    uint64_t max_bytes = UINT64_MAX;  // no blob is fetched beyond this
  };
  // Opens the upstream response (GET, auth and redirects done); runs inside
  // the fetch's coroutine.
  using Open = std::function<Result<std::unique_ptr<http::ClientResponse>>(http::Suspender&)>;

  // expected_size: the blob's size as a descriptor gave it, if known.
  BlobFetch(Deps deps, std::string name, Digest digest, std::optional<uint64_t> expected_size = std::nullopt);
  ~BlobFetch();

  const Digest& digest() const { return digest_; }
  // Links the blob for `name` as well when the fetch completes (or now, if it has).
  void addName(const std::string& name);
  // Links the completed blob for one more name (under the GC fence).
  void linkName(const std::string& name, uint64_t size);
  // Whether the fetch is for `name` (it asked, or was added).
  bool hasName(const std::string& name) const;
  // The image name the fetch was started for.
  const std::string& firstName() const { return first_name_; }

  // The fetch's body, run once in a coroutine of the client's: `open` gets
  // the upstream response. Never throws: whatever goes wrong (an exception
  // included) ends the fetch as failed, so no reader waits on it for ever.
  void run(http::Suspender& self, const Open& open);
  // Ends a fetch that never ran (its coroutine could not start): readers
  // that joined it get `e`.
  void abandon(Error e) { failWith(std::move(e)); }

  // Waits until the upstream has answered (the size is known) or the fetch
  // failed; the error is the client's answer (BLOB_UNKNOWN, TOOMANYREQUESTS...).
  Status waitStarted(const Call& call);
  // The blob's size once known (waitStarted()).
  std::optional<uint64_t> size() const;
  // A reader for a started fetch: the growing file, or the installed blob
  // once complete.
  Result<storage::BlobReaderPtr> reader(const Call& call);
  // Done (verified and linked) or failed.
  bool finished() const;
  // Tells a running fetch to stop at its next read (shutdown).
  void cancel();

 private:
  enum class State { Starting, Streaming, Done, Failed };
  void runOnce(http::Suspender& self, const Open& open);
  Result<uint64_t> waitReady(uint64_t pos, const Call& call);
  void failWith(Error e);
  // The most bytes the body may have, or why it is refused.
  Result<uint64_t> limitFor(const http::ClientResponse& res) const;
  Status stream(http::Suspender& self, http::ClientResponse& res, UploadSession& session, uint64_t limit);
  Status complete(const UploadSessionPtr& session);

  Deps deps_;
  const std::string first_name_;
  const Digest digest_;
  const std::optional<uint64_t> expected_size_;
  Notifier progress_;  // every change of the state below
  mutable std::mutex mu_;
  State state_ = State::Starting;
  std::optional<Error> error_;
  std::optional<uint64_t> size_;  // from Content-Length; else known at the end
  uint64_t written_ = 0;
  bool verified_ = false;  // every byte is written and matches the digest
  int read_fd_ = -1;  // the session file, read-only, for readers to dup
  std::set<std::string> names_;
  bool cancelled_ = false;
};
using BlobFetchPtr = std::shared_ptr<BlobFetch>;

}  // namespace berth::repo::remote
