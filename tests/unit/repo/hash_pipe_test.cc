// HashPipe: the digest of everything submitted, in order, whatever the sizes
// and whoever hashes (the posted task, or the producer helping when the task
// has not run).
#include "repo/remote/hash_pipe.h"

#include <gtest/gtest.h>

#include <cstring>
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

// The hasher's task has not run yet (on busy cores it waits for a thread):
// a producer with every buffer queued hashes the oldest itself instead of
// waiting, and so does finish(); the late task then finds nothing to do.
TEST(HashPipe, AProducerHashesItselfWhenTheHasherIsNotAtWork) {
  std::vector<std::function<void()>> tasks;  // posted, never run until the end
  auto pipe = HashPipe::create([&](std::function<void()> t) { tasks.push_back(std::move(t)); }, 2, 4);
  const std::string data = "abcdefghijklmnopqrstuvwxyz";
  for (std::size_t at = 0; at < data.size(); at += 4) {
    std::size_t n = std::min<std::size_t>(4, data.size() - at);
    std::memcpy(pipe->next(Call{}), data.data() + at, n);  // would wait for ever without the help
    pipe->submit(n);
  }
  EXPECT_EQ(pipe->finish(Call{}), Sha256::of(data));
  EXPECT_EQ(tasks.size(), 1u) << "one task posted while it had not run";
  for (auto& t : tasks) t();
}

}  // namespace
}  // namespace berth::repo::remote
