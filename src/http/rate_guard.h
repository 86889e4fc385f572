// The minimum-rate rule for request bodies and responses: over any window of
// `window` seconds (once the transfer has lasted that long), at least
// min_bytes_per_second × window bytes must have moved. A client that sends or
// reads slower is cut; one that is slow but live (50 KiB/s) never is.
//
// Pure arithmetic on an injected clock, so it is unit-tested without sockets.
// Not thread-safe: owned by one transfer.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>

namespace berth::http {

class RateGuard {
 public:
  using Clock = std::chrono::steady_clock;
  RateGuard(uint64_t min_bytes_per_second, std::chrono::seconds window, Clock::time_point start);

  // Records `bytes` moved at `now` (times never go backwards).
  void record(Clock::time_point now, uint64_t bytes);
  // The earliest time at which the rule fails if nothing more moves.
  // Clock::time_point::max() when there is no minimum.
  Clock::time_point deadline() const;
  bool expired(Clock::time_point now) const { return now >= deadline(); }
  uint64_t total() const { return total_; }

 private:
  struct Sample {
    Clock::time_point at;
    uint64_t total;  // bytes moved up to and including `at`
  };
  uint64_t need_;  // bytes the window must hold
  Clock::duration window_;
  Clock::duration resolution_;
  Clock::time_point start_;
  uint64_t total_ = 0;
  // Progress points, coarsened to resolution_; only those that can still
  // decide the deadline are kept.
  std::deque<Sample> samples_;
};

}  // namespace berth::http
