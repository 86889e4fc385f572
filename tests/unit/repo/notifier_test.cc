// Notifier: waiters wake when a change is announced, not when their timeout
// ends; a coroutine waits suspended (holding no thread); a change announced
// between reading the generation and waiting is not missed.
#include "repo/notifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "http/client.h"
#include "http/suspender.h"

namespace berth::repo {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Far longer than any wake-up takes: a waiter still waiting this long was not woken.
constexpr auto kForever = std::chrono::milliseconds(60000);

TEST(Notifier, APlainThreadWakesOnNotifyNotAtItsTimeout) {
  Notifier n;
  std::atomic<bool> waiting{false}, woke{false};
  std::thread t([&] {
    uint64_t seen = n.generation();
    waiting = true;
    n.wait(Call{}, seen, kForever);
    woke = true;
  });
  while (!waiting) std::this_thread::sleep_for(1ms);
  auto start = Clock::now();
  while (!woke && Clock::now() - start < 30s) {
    n.notifyAll();
    std::this_thread::sleep_for(5ms);
  }
  t.join();
  EXPECT_LT(Clock::now() - start, 30s);
}

TEST(Notifier, AChangeBeforeTheWaitIsNotMissed) {
  Notifier n;
  uint64_t seen = n.generation();
  n.notifyAll();
  auto start = Clock::now();
  n.wait(Call{}, seen, kForever);
  EXPECT_LT(Clock::now() - start, 30s);
  EXPECT_EQ(n.generation(), seen + 1);
}

TEST(Notifier, ACoroutineWaitsSuspendedAndWakesOnNotify) {
  http::ClientOptions o;
  o.threads = 1;  // the waiter must not hold the one thread the notifier needs
  http::HttpClient client(o);
  Notifier n;
  std::mutex mu;
  std::condition_variable cv;
  int waiters_done = 0;
  bool notifier_ran = false;
  constexpr int kWaiters = 3;
  for (int i = 0; i < kWaiters; ++i)
    ASSERT_TRUE(client.spawn([&](http::Suspender& s) {
      uint64_t seen = n.generation();
      n.wait(Call{&s, "w"}, seen, kForever);
      std::lock_guard lock(mu);
      ++waiters_done;
      cv.notify_all();
    }));
  // Runs after the waiters on the same single thread: only because they
  // are suspended, not blocking it.
  ASSERT_TRUE(client.spawn([&](http::Suspender& s) {
    s.pause(20ms);
    n.notifyAll();
    std::lock_guard lock(mu);
    notifier_ran = true;
    cv.notify_all();
  }));
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, 30s, [&] { return waiters_done == kWaiters; }));
  EXPECT_TRUE(notifier_ran);
}

TEST(Notifier, AWaitEndsAtItsTimeoutWithoutANotify) {
  Notifier n;
  auto start = Clock::now();
  n.wait(Call{}, n.generation(), 20ms);
  EXPECT_GE(Clock::now() - start, 20ms);
}

}  // namespace
}  // namespace berth::repo
