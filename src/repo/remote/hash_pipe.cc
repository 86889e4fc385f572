#include "repo/remote/hash_pipe.h"

namespace berth::repo::remote {
namespace {
// Waits re-check their condition this often even unannounced; a hasher
// never takes this long for one buffer.
constexpr auto kRecheck = std::chrono::milliseconds(100);
}  // namespace

std::shared_ptr<HashPipe> HashPipe::create(Post post, std::size_t buffers, std::size_t buffer_bytes) {
  return std::shared_ptr<HashPipe>(new HashPipe(std::move(post), buffers, buffer_bytes));
}

HashPipe::HashPipe(Post post, std::size_t buffers, std::size_t buffer_bytes)
    : post_(std::move(post)),
      buffer_bytes_(buffer_bytes),
      memory_(new char[buffers * buffer_bytes]),
      lengths_(buffers, 0) {}

char* HashPipe::next(const Call& call) {
  for (;;) {
    uint64_t seen = progress_.generation();
    {
      std::lock_guard lock(mu_);
      if (submitted_ - hashed_ < lengths_.size())
        return memory_.get() + (submitted_ % lengths_.size()) * buffer_bytes_;
    }
    // Every buffer is queued. When the hasher is not at work (its task
    // still waits for a thread: the cores are busy), the producer, which
    // has one, hashes the oldest buffer itself rather than wait for it.
    if (hash_mu_.try_lock()) {
      std::lock_guard hashing(hash_mu_, std::adopt_lock);
      hashOne();
      continue;
    }
    progress_.wait(call, seen, kRecheck);
  }
}

void HashPipe::submit(std::size_t n) {
  {
    std::lock_guard lock(mu_);
    lengths_[submitted_ % lengths_.size()] = n;
    ++submitted_;
    if (running_) return;
    running_ = true;
  }
  post_([self = shared_from_this()] { self->drain(); });
}

bool HashPipe::hashOne() {
  const char* data;
  std::size_t n;
  {
    std::lock_guard lock(mu_);
    if (hashed_ == submitted_) return false;
    std::size_t slot = hashed_ % lengths_.size();
    data = memory_.get() + slot * buffer_bytes_;
    n = lengths_[slot];
  }
  sha_.update(data, n);
  {
    std::lock_guard lock(mu_);
    ++hashed_;
  }
  progress_.notifyAll();
  return true;
}

void HashPipe::drain() {
  for (;;) {
    std::lock_guard hashing(hash_mu_);
    {
      // Checked and cleared under mu_, which submit() holds to decide
      // whether to post: no buffer is left without a task to hash it.
      std::lock_guard lock(mu_);
      if (hashed_ == submitted_) {
        running_ = false;
        break;
      }
    }
    hashOne();
  }
  progress_.notifyAll();
}

Digest HashPipe::finish(const Call& call) {
  for (;;) {
    uint64_t seen = progress_.generation();
    {
      std::lock_guard lock(mu_);
      if (hashed_ == submitted_) break;  // a task still to run finds nothing left
    }
    if (hash_mu_.try_lock()) {
      std::lock_guard hashing(hash_mu_, std::adopt_lock);
      if (hashOne()) continue;
    }
    progress_.wait(call, seen, kRecheck);
  }
  std::lock_guard hashing(hash_mu_);
  return sha_.finish();
}

}  // namespace berth::repo::remote
