// Stacks for the request coroutines (Boost.Context's StackAllocator
// concept). A stack is reserved address space with a guard page below it, so
// an overflow faults instead of corrupting memory; only the pages a handler
// touches cost memory. Freed stacks are kept for reuse up to a bound, because
// mapping and unmapping one per request costs more than the request.
//
// Thread-safe: coroutines start and end on every worker thread.
#pragma once

#include <boost/context/stack_context.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace berth::http {

class CoroutineStacks {
 public:
  CoroutineStacks(std::size_t stack_bytes, std::size_t max_cached);
  ~CoroutineStacks();
  CoroutineStacks(const CoroutineStacks&) = delete;
  CoroutineStacks& operator=(const CoroutineStacks&) = delete;

  // Makes sure the next take() finds a stack ready; false when none can be
  // mapped (address space or map count exhausted). take() itself throws
  // std::bad_alloc then, inside Asio, where it cannot be answered.
  bool ensureOne();
  boost::context::stack_context take();
  void give(boost::context::stack_context& sc);

  // The allocator handed to asio::spawn: a copyable handle on the pool.
  class Allocator {
   public:
    explicit Allocator(CoroutineStacks& pool) : pool_(&pool) {}
    boost::context::stack_context allocate() { return pool_->take(); }
    void deallocate(boost::context::stack_context& sc) { pool_->give(sc); }

   private:
    CoroutineStacks* pool_;
  };
  Allocator allocator() { return Allocator(*this); }

 private:
  std::size_t size_;  // usable bytes, a multiple of the page size
  std::size_t page_;
  std::size_t max_cached_;
  std::mutex mu_;
  bool map(boost::context::stack_context& sc);
  std::vector<boost::context::stack_context> cached_;
};

}  // namespace berth::http
