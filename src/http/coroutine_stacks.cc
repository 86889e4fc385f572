#include "http/coroutine_stacks.h"

#include <sys/mman.h>
#include <unistd.h>

#include <new>

namespace berth::http {
namespace {
// AddressSanitizer puts redzones around every local: the same call chain
// needs more stack than in the normal build. A margin, not a measured need
// (the deepest handlers passed under ASan with 1 MiB too); only address
// space, since pages are committed as touched.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kSanitizerStackFactor = 4;
#else
constexpr std::size_t kSanitizerStackFactor = 1;
#endif
}  // namespace

CoroutineStacks::CoroutineStacks(std::size_t stack_bytes, std::size_t max_cached)
    : page_(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE))), max_cached_(max_cached) {
  stack_bytes *= kSanitizerStackFactor;
  size_ = (stack_bytes + page_ - 1) / page_ * page_;
}

CoroutineStacks::~CoroutineStacks() {
  for (auto& sc : cached_) ::munmap(static_cast<char*>(sc.sp) - sc.size - page_, sc.size + page_);
}

boost::context::stack_context CoroutineStacks::take() {
  {
    std::lock_guard lock(mu_);
    if (!cached_.empty()) {
      auto sc = cached_.back();
      cached_.pop_back();
      return sc;
    }
  }
  boost::context::stack_context sc;
  if (!map(sc)) throw std::bad_alloc();
  return sc;
}

bool CoroutineStacks::ensureOne() {
  std::lock_guard lock(mu_);
  if (!cached_.empty()) return true;
  boost::context::stack_context sc;
  if (!map(sc)) return false;
  cached_.push_back(sc);
  return true;
}

bool CoroutineStacks::map(boost::context::stack_context& sc) {
  // Reserved, not committed: MAP_NORESERVE keeps thousands of suspended
  // coroutines from counting against memory they never touch.
  void* base = ::mmap(nullptr, size_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                      -1, 0);
  if (base == MAP_FAILED) return false;
  if (::mprotect(base, page_, PROT_NONE) != 0) {  // the guard page: stacks grow down
    ::munmap(base, size_ + page_);
    return false;
  }
  sc.size = size_;
  sc.sp = static_cast<char*>(base) + page_ + size_;
  return true;
}

void CoroutineStacks::give(boost::context::stack_context& sc) {
  {
    std::lock_guard lock(mu_);
    if (cached_.size() < max_cached_) {
      cached_.push_back(sc);
      return;
    }
  }
  ::munmap(static_cast<char*>(sc.sp) - sc.size - page_, sc.size + page_);
}

}  // namespace berth::http
