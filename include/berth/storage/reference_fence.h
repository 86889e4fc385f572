// The fence between garbage collection and everything that adds a reference
// to a blob (docs/design.md, "Garbage collection").
//
// A writer holds it shared from the moment it finds a blob file (or installs
// one) until the metadata transaction that references the blob has committed:
// an upload's commit (install, then link), a mount (stat, then link), a
// manifest PUT (the manifest's bytes, then its record), a remote's cache.
// The sweep holds it exclusively while it re-checks candidates and unlinks
// their files. So a file a writer has seen cannot vanish before its reference
// is committed, and a committed reference is seen by the sweep's re-check.
//
// Fair: once the sweep waits, new writers wait behind it (a steady stream of
// pushes cannot starve it); the sweep holds it for one short batch at a time.
// Not re-entrant: a writer must not enter twice (a waiting sweep would
// deadlock it). Never hold it across a wait on a client or an upstream.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace berth::storage {

class ReferenceFence {
 public:
  // RAII: a writer's shared hold.
  class Writer {
   public:
    explicit Writer(ReferenceFence& f) : f_(&f) { f_->lockShared(); }
    ~Writer() { if (f_) f_->unlockShared(); }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    Writer(Writer&& o) noexcept : f_(o.f_) { o.f_ = nullptr; }
    Writer& operator=(Writer&&) = delete;

   private:
    ReferenceFence* f_;
  };
  // RAII: the sweep's exclusive hold.
  class Sweep {
   public:
    explicit Sweep(ReferenceFence& f) : f_(&f) { f_->lockExclusive(); }
    ~Sweep() { if (f_) f_->unlockExclusive(); }
    Sweep(const Sweep&) = delete;
    Sweep& operator=(const Sweep&) = delete;

   private:
    ReferenceFence* f_;
  };

  Writer writer() { return Writer(*this); }

  void lockShared();
  void unlockShared();
  void lockExclusive();
  void unlockExclusive();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t writers_ = 0;        // shared holders
  std::size_t sweeps_waiting_ = 0;
  bool sweeping_ = false;
};

}  // namespace berth::storage
