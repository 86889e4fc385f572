#include "auth/login_throttle.h"

#include <gtest/gtest.h>

namespace berth::auth {
namespace {

TEST(LoginThrottle, CountsFailuresPerUserAndAddress) {
  LoginThrottle t(2);
  EXPECT_EQ(t.failed("alice", "10.0.0.1", 100), 0);
  EXPECT_FALSE(t.overLimit("alice", "10.0.0.1", 100));
  EXPECT_EQ(t.failed("alice", "10.0.0.1", 100), 0);
  EXPECT_TRUE(t.overLimit("alice", "10.0.0.1", 100)) << "free failures used up";
  EXPECT_EQ(t.failed("alice", "10.0.0.1", 101), 1) << "the third wrong attempt: 429, Retry-After 1";
  EXPECT_EQ(t.failed("alice", "10.0.0.1", 101), 2);
  EXPECT_EQ(t.failed("alice", "10.0.0.1", 102), 4);
  // One pair's failures never touch another pair: the same address (a proxy)
  // for another user, or the same user elsewhere.
  EXPECT_FALSE(t.overLimit("bob", "10.0.0.1", 102));
  EXPECT_EQ(t.failed("bob", "10.0.0.1", 102), 0);
  EXPECT_FALSE(t.overLimit("alice", "10.0.0.2", 102));
}

TEST(LoginThrottle, BackOffIsCappedAndForgivenAfterAnHour) {
  LoginThrottle t(1);
  int64_t wait = 0;
  for (int i = 0; i < 30; ++i) wait = t.failed("u", "a", 1000);
  EXPECT_EQ(wait, 256);
  EXPECT_TRUE(t.overLimit("u", "a", 1000 + 3600));
  EXPECT_FALSE(t.overLimit("u", "a", 1000 + 3601)) << "an hour of quiet forgives";
  EXPECT_EQ(t.failed("u", "a", 1000 + 3601), 0) << "and the count starts afresh";
}

TEST(LoginThrottle, ASuccessClearsThePair) {
  LoginThrottle t(1);
  t.failed("u", "a", 10);
  t.failed("u", "a", 10);
  ASSERT_TRUE(t.overLimit("u", "a", 10));
  t.succeeded("u", "a");
  EXPECT_FALSE(t.overLimit("u", "a", 10));
  EXPECT_EQ(t.size(), 0u);
}

TEST(LoginThrottle, MemoryIsBoundedDroppingTheLeastRecentlyFailed) {
  LoginThrottle t(1, /*max_entries=*/100);
  t.failed("victim", "proxy", 10);
  for (int i = 0; i < 98; ++i) t.failed("spray" + std::to_string(i), "x", 10);
  t.failed("victim", "proxy", 11);  // recently failed again: kept
  for (int i = 98; i < 150; ++i) t.failed("spray" + std::to_string(i), "x", 12);
  EXPECT_EQ(t.size(), 100u);
  EXPECT_TRUE(t.overLimit("victim", "proxy", 12));
  EXPECT_FALSE(t.overLimit("spray0", "x", 12)) << "the oldest pairs were dropped";
  // A huge user name costs no more than a short one: pairs are keyed by a hash.
  t.failed(std::string(1 << 20, 'x'), "x", 12);
  EXPECT_EQ(t.size(), 100u);
}

}  // namespace
}  // namespace berth::auth
