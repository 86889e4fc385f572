// The repositories in service now: an immutable RepositoryRegistry snapshot
// that a reload replaces as a whole (docs/design.md, "Runtime-swappable
// repositories"). A request takes current() once at its start and holds it
// to its end, so it finishes on the repositories it began with; a replaced
// repository object is destroyed when the last request holding it ends.
//
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>

#include "berth/repo/repository.h"

namespace berth::repo {

class LiveRepositories {
 public:
  explicit LiveRepositories(std::shared_ptr<const RepositoryRegistry> initial) : current_(std::move(initial)) {}

  std::shared_ptr<const RepositoryRegistry> current() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  // The old snapshot lives on in the requests that hold it.
  void publish(std::shared_ptr<const RepositoryRegistry> next) {
    {
      std::lock_guard lock(mu_);
      current_.swap(next);
    }
    next.reset();  // the old snapshot, outside the lock: it may be the last user of a remote
  }

 private:
  // A mutex, not std::atomic<std::shared_ptr>: libstdc++ 12's is lock-based
  // too, and this is one pointer copy per request.
  mutable std::mutex mu_;
  std::shared_ptr<const RepositoryRegistry> current_;
};

}  // namespace berth::repo
