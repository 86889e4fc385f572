// A process-wide budget for request bodies held in memory at once (manifests,
// JSON bodies of the REST APIs): a 4 MiB manifest becomes a DOM many times
// its size, and a thousand of them in flight would exhaust memory. Bodies
// that stream to disk (blob uploads) never draw on it. Over the budget a
// request is refused with TOOMANYREQUESTS and Retry-After instead of growing.
//
// Thread-safe (one atomic counter).
#pragma once

#include <atomic>
#include <cstdint>

namespace berth::http {

class BodyBudget {
 public:
  explicit BodyBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
  // Takes `n` bytes if they fit; false (nothing taken) otherwise.
  bool tryTake(uint64_t n) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (n > limit_ || used > limit_ - n) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void give(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace berth::http
