// The most recently uploaded data, kept in the page cache up to a budget.
//
// Why: an upload is written back window by window as it arrives
// (UploadSession::startWriteback), so its pages are clean long before the
// commit and could simply stay cached: pulling a blob just pushed is then a
// memory copy instead of a disk read. But on the VMs we measured, growing the
// page cache is what caps a writer (fresh pages cost far more than recycled
// ones: with nothing dropped, a second 1 GiB push in a row fell to 230 MiB/s).
// So the newest `budget` bytes stay cached and older windows are dropped
// (POSIX_FADV_DONTNEED), oldest first: once the budget is reached the page
// cache recycles instead of growing with every push. A zero budget drops each
// window as soon as it is on disk.
//
// Windows are named by path, not held by descriptor, so a deleted file's
// disk space is never kept: a window whose file is gone is just forgotten
// (its pages went with the file). moved() follows an upload installed as a
// blob.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace berth::repo {

class RecentPages {
 public:
  explicit RecentPages(uint64_t budget_bytes) : budget_(budget_bytes) {}

  // [offset, offset + length) of `path`, open as `fd`, is on disk (clean):
  // keeps it, then drops the oldest windows beyond the budget.
  void keep(int fd, const std::string& path, uint64_t offset, uint64_t length);
  // The file at `from` is now at `to`.
  void moved(const std::string& from, const std::string& to);
  // The file at `path` is removed.
  void forget(const std::string& path);

  uint64_t budget() const { return budget_; }
  uint64_t keptBytes() const;
  std::size_t windows() const;

 private:
  struct Window {
    std::string path;
    uint64_t offset, length;
  };
  const uint64_t budget_;
  mutable std::mutex mu_;
  std::deque<Window> kept_;  // oldest first
  uint64_t kept_bytes_ = 0;
};

}  // namespace berth::repo
