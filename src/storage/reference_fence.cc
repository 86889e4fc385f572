#include "berth/storage/reference_fence.h"

namespace berth::storage {

void ReferenceFence::lockShared() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !sweeping_ && sweeps_waiting_ == 0; });
  ++writers_;
}

void ReferenceFence::unlockShared() {
  {
    std::lock_guard lock(mu_);
    --writers_;
    if (writers_ != 0) return;
  }
  cv_.notify_all();
}

void ReferenceFence::lockExclusive() {
  std::unique_lock lock(mu_);
  ++sweeps_waiting_;
  cv_.wait(lock, [this] { return !sweeping_ && writers_ == 0; });
  --sweeps_waiting_;
  sweeping_ = true;
}

void ReferenceFence::unlockExclusive() {
  {
    std::lock_guard lock(mu_);
    sweeping_ = false;
  }
  cv_.notify_all();
}

}  // namespace berth::storage
