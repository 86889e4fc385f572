// The SHA-256 of a blob being fetched, computed beside the fetch rather than
// in its way. Receiving, writing and hashing each byte one after another on
// one coroutine made the hash (the largest of the three) a stall in every
// cycle; here the fetch receives into one buffer of a small ring while the
// buffers before it are hashed on another thread.
//
// The producer (one fetch) takes a buffer (next), fills it, hands it over
// (submit) and may go on reading it (to write it to the cache file) until it
// takes the next one: hashing only reads. Buffers are hashed in order, one at
// a time, by a task posted to `post` that drains the queue. When every
// buffer is still queued, next() hashes the oldest itself if the hasher is
// not at work (on busy cores its task may wait long for a thread), else
// waits (suspending the fetch's coroutine) for it to give one back. Memory:
// the ring, whatever the blob's size.
//
// Thread-safe between the one producer and the hasher. The pipe lives until
// its hasher task is done with it (shared), so a producer that stops early
// (an error) may simply let go of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "berth/core/digest.h"
#include "berth/core/sha256.h"
#include "berth/repo/call.h"
#include "repo/notifier.h"

namespace berth::repo::remote {

class HashPipe : public std::enable_shared_from_this<HashPipe> {
 public:
  // Runs a task on another thread.
  using Post = std::function<void(std::function<void()>)>;
  static std::shared_ptr<HashPipe> create(Post post, std::size_t buffers, std::size_t buffer_bytes);

  std::size_t bufferBytes() const { return buffer_bytes_; }
  // The buffer to fill next (bufferBytes() long); waits while every buffer
  // is still queued for hashing.
  char* next(const Call& call);
  // Queues the first `n` bytes of the buffer from next() for hashing.
  void submit(std::size_t n);
  // Waits until everything submitted is hashed; the digest of it all. Once.
  Digest finish(const Call& call);

 private:
  HashPipe(Post post, std::size_t buffers, std::size_t buffer_bytes);
  void drain();  // the hasher task
  // Hashes the oldest queued buffer, if any; the caller holds hash_mu_.
  bool hashOne();

  const Post post_;
  const std::size_t buffer_bytes_;
  std::unique_ptr<char[]> memory_;
  std::vector<std::size_t> lengths_;  // of each buffer's queued bytes
  std::mutex hash_mu_;                // whoever hashes (the task, or a producer helping) holds it
  Sha256 sha_;                        // under hash_mu_
  std::mutex mu_;
  uint64_t submitted_ = 0, hashed_ = 0;  // buffers, counted since the start
  bool running_ = false;                 // a hasher task is posted or running
  Notifier progress_;                    // a buffer was hashed, or the hasher stopped
};
using HashPipePtr = std::shared_ptr<HashPipe>;

}  // namespace berth::repo::remote
