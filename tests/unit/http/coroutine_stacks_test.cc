#include "http/coroutine_stacks.h"

#include <gtest/gtest.h>

#include <cstring>

namespace berth::http {
namespace {

TEST(CoroutineStacks, AStackIsUsableMemoryOfTheAskedSize) {
  CoroutineStacks stacks(100 * 1024, 2);
  auto sc = stacks.take();
  EXPECT_GE(sc.size, 100u * 1024);
  // The whole stack below sp is writable (it grows down).
  std::memset(static_cast<char*>(sc.sp) - sc.size, 0xab, sc.size);
  stacks.give(sc);
}

TEST(CoroutineStacks, FreedStacksAreReusedUpToTheBound) {
  CoroutineStacks stacks(64 * 1024, 1);
  auto a = stacks.take();
  auto b = stacks.take();
  void* a_sp = a.sp;
  stacks.give(a);
  stacks.give(b);  // beyond the bound: unmapped
  auto c = stacks.take();
  EXPECT_EQ(c.sp, a_sp);
  stacks.give(c);
}

TEST(CoroutineStacks, EnsureOneLeavesAStackReadyForTake) {
  CoroutineStacks stacks(64 * 1024, 4);
  ASSERT_TRUE(stacks.ensureOne());
  auto a = stacks.take();
  ASSERT_TRUE(stacks.ensureOne());
  auto b = stacks.take();
  EXPECT_NE(a.sp, b.sp);
  stacks.give(a);
  stacks.give(b);
}

}  // namespace
}  // namespace berth::http
