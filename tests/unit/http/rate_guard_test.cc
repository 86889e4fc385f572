#include "http/rate_guard.h"

#include <gtest/gtest.h>

namespace berth::http {
namespace {

using namespace std::chrono_literals;
using Clock = RateGuard::Clock;

TEST(RateGuard, EveryTransferGetsOneWholeWindow) {
  auto t0 = Clock::now();
  RateGuard g(1024, 10s, t0);
  EXPECT_EQ(g.deadline(), t0 + 10s);
  EXPECT_FALSE(g.expired(t0 + 9s));
  EXPECT_TRUE(g.expired(t0 + 10s));
}

TEST(RateGuard, EnoughBytesInTheWindowMoveTheDeadline) {
  auto t0 = Clock::now();
  RateGuard g(100, 10s, t0);  // the window must hold 1000 bytes
  g.record(t0 + 1s, 600);
  g.record(t0 + 5s, 600);
  // Without more bytes the window (t-10, t] holds 1200 until t-10 passes
  // t0+1s (then 600 < 1000): the deadline is t0 + 11 s.
  EXPECT_EQ(g.deadline(), t0 + 11s);
  g.record(t0 + 9s, 500);
  // Last 1000 bytes needed: 500 at 9 s and 600 at 5 s hold 1100; at 15 s the
  // 600 leaves the window.
  EXPECT_EQ(g.deadline(), t0 + 15s);
}

TEST(RateGuard, ASlowButSteadyTransferNeverExpires) {
  auto t0 = Clock::now();
  RateGuard g(1024, 2s, t0);
  auto t = t0;
  for (int i = 0; i < 400; ++i) {  // 50 KiB/s in 10 ms steps, 4 s
    t += 10ms;
    g.record(t, 512);
    ASSERT_FALSE(g.expired(t)) << i;
  }
}

TEST(RateGuard, ATransferBelowTheRateExpiresAfterTheWindow) {
  auto t0 = Clock::now();
  RateGuard g(1024, 2s, t0);
  auto t = t0;
  bool expired = false;
  for (int i = 0; i < 100 && !expired; ++i) {  // 200 bytes/s
    t += 500ms;
    expired = g.expired(t);
    g.record(t, 100);
  }
  EXPECT_TRUE(expired);
  EXPECT_LE(t, t0 + 2s + 500ms);
}

TEST(RateGuard, StallingAfterAFastStartExpiresOneWindowLater) {
  auto t0 = Clock::now();
  RateGuard g(1024, 2s, t0);
  g.record(t0 + 100ms, 10 << 20);  // 10 MiB at once, then nothing
  EXPECT_FALSE(g.expired(t0 + 2s));
  EXPECT_TRUE(g.expired(t0 + 2s + 200ms));
}

TEST(RateGuard, NoMinimumNeverExpires) {
  auto t0 = Clock::now();
  RateGuard g(0, 2s, t0);
  EXPECT_FALSE(g.expired(t0 + std::chrono::hours(24)));
}

TEST(RateGuard, KeepsFewSamplesOnLongTransfers) {
  auto t0 = Clock::now();
  RateGuard g(1024, 60s, t0);
  auto t = t0;
  for (int i = 0; i < 100000; ++i) {
    t += 1ms;
    g.record(t, 1 << 20);
  }
  EXPECT_FALSE(g.expired(t));
  EXPECT_EQ(g.total(), 100000ull << 20);
}

}  // namespace
}  // namespace berth::http
