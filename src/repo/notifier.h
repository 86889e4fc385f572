// Wakes calls that wait for something to change (a fetch's progress, a
// shared result), instead of having them poll with sleeps: a waiter is
// resumed as soon as the change is announced, and a change nobody waits for
// costs one uncontended lock.
//
// Use: read generation() together with the state (under the state's own
// lock), and if the state is not what the caller needs, wait(call, seen):
// a notifyAll() made after generation() was read ends the wait at once, so
// no change is missed between the check and the wait.
//
// A request's coroutine waits suspended (repo::Call's Suspender: no worker
// thread is held); a plain thread blocks on a condition variable. Every wait
// also ends after `timeout`, so a caller can re-check conditions that are
// not announced (a shutdown) and never waits for ever.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "berth/repo/call.h"

namespace berth::repo {

class Notifier {
 public:
  Notifier() = default;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // How many notifyAll() calls came so far.
  uint64_t generation() const;
  // Waits until the generation has moved past `seen`, or `timeout` passed.
  void wait(const Call& call, uint64_t seen, std::chrono::milliseconds timeout);
  // Wakes every waiter; later waits on an older generation return at once.
  void notifyAll();

 private:
  struct Waiter;  // a suspended coroutine (notifier.cc)
  mutable std::mutex mu_;
  uint64_t generation_ = 0;
  std::vector<std::shared_ptr<Waiter>> waiters_;
  std::condition_variable threads_;  // plain threads wait here
};

}  // namespace berth::repo
