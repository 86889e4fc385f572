// HashPipe: the digest of everything submitted, in order, whatever the sizes;
// hashing happens on the posted tasks, not the producer's thread; a producer
// that has every buffer queued waits for the hasher to give one back.
#include "repo/remote/hash_pipe.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

namespace berth::repo::remote {
namespace {

using namespace std::chrono_literals;

std::string randomBytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

// Feeds `data` through the pipe in pieces of up to `piece` bytes.
Digest pipeDigest(HashPipe& pipe, const std::string& data, std::size_t piece) {
  for (std::size_t at = 0; at < data.size();) {
    std::size_t n = std::min({piece, data.size() - at, pipe.bufferBytes()});
    std::memcpy(pipe.next(Call{}), data.data() + at, n);
    pipe.submit(n);
    at += n;
  }
  return pipe.finish(Call{});
}

void detached(std::function<void()> task) { std::thread(std::move(task)).detach(); }

TEST(HashPipe, TheDigestOfEverythingSubmittedInOrder) {
  const std::string data = randomBytes(3 * 1024 * 1024 + 17, 1);
  auto bytewise = HashPipe::create(detached, 2, 8);
  EXPECT_EQ(pipeDigest(*bytewise, data.substr(0, 5000), 1), Sha256::of(data.substr(0, 5000)));
  for (std::size_t piece : {std::size_t(4096), std::size_t(65536 + 3), std::size_t(1 << 20)}) {
    auto pipe = HashPipe::create(detached, 4, 256 * 1024);
    EXPECT_EQ(pipeDigest(*pipe, data, piece), Sha256::of(data)) << "pieces of " << piece;
  }
  auto empty = HashPipe::create(detached, 2, 16);
  EXPECT_EQ(empty->finish(Call{}), Sha256::of(std::string()));
}

TEST(HashPipe, AFullRingWaitsForTheHasher) {
  std::mutex mu;
  std::deque<std::function<void()>> tasks;  // posted, run by the test when it chooses
  auto pipe = HashPipe::create(
      [&](std::function<void()> t) {
        std::lock_guard lock(mu);
        tasks.push_back(std::move(t));
      },
      2, 4);
  std::memcpy(pipe->next(Call{}), "abcd", 4);
  pipe->submit(4);
  std::memcpy(pipe->next(Call{}), "efgh", 4);
  pipe->submit(4);
  std::atomic<bool> got_third{false};
  std::thread producer([&] {
    std::memcpy(pipe->next(Call{}), "ij", 2);  // both buffers are queued: waits
    got_third = true;
    pipe->submit(2);
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(got_third) << "a buffer still queued for hashing was handed out again";
  for (;;) {  // the hasher runs now
    std::function<void()> t;
    {
      std::lock_guard lock(mu);
      if (tasks.empty()) break;
      t = std::move(tasks.front());
      tasks.pop_front();
    }
    t();
  }
  producer.join();
  EXPECT_TRUE(got_third);
  for (;;) {
    std::function<void()> t;
    {
      std::lock_guard lock(mu);
      if (tasks.empty()) break;
      t = std::move(tasks.front());
      tasks.pop_front();
    }
    t();
  }
  EXPECT_EQ(pipe->finish(Call{}), Sha256::of(std::string("abcdefghij")));
}

}  // namespace
}  // namespace berth::repo::remote
