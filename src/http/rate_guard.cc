#include "http/rate_guard.h"

#include <algorithm>

namespace berth::http {
RateGuard::RateGuard(uint64_t min_bytes_per_second, std::chrono::seconds window, Clock::time_point start)
    : need_(min_bytes_per_second * static_cast<uint64_t>(window.count())),
      window_(window),
      // Samples closer than this are merged: at most about 32 per window are
      // kept, so a slow transfer costs a few hundred bytes, and the deadline
      // is exact to 1/32 of the window.
      resolution_(std::max<Clock::duration>(std::chrono::milliseconds(100), window_ / 32)),
      start_(start) {}

void RateGuard::record(Clock::time_point now, uint64_t bytes) {
  if (bytes == 0) return;
  total_ += bytes;
  if (!samples_.empty() && now - samples_.back().at < resolution_)
    samples_.back().total = total_;
  else
    samples_.push_back({now, total_});
  // A sample decides the deadline only while the bytes after it could fall
  // short of the window's need; older ones are never consulted again.
  while (samples_.size() > 1 && total_ - samples_[1].total >= need_) samples_.pop_front();
}

RateGuard::Clock::time_point RateGuard::deadline() const {
  if (need_ == 0) return Clock::time_point::max();
  // With no more progress, the window (t - W, t] holds total_ - total(t - W)
  // bytes. It falls below need_ once t - W reaches the first sample whose
  // running total exceeds total_ - need_.
  Clock::time_point from = start_;
  if (total_ >= need_) {
    uint64_t threshold = total_ - need_;
    for (const auto& s : samples_)
      if (s.total > threshold) {
        from = s.at;
        break;
      }
  }
  Clock::time_point earliest = start_ + window_;  // a transfer always gets one whole window
  return std::max(earliest, from + window_);
}

}  // namespace berth::http
