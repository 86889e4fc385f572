// The outbound client from coroutines (spawn()) and from plain threads:
// waiting suspends a coroutine and holds no thread; the client's destructor
// ends the work still waiting on the network.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <optional>

#include "berth/repo/call.h"
#include "http/client.h"
#include "unit/http/client_test_support.h"
#include "http/suspender.h"

namespace berth::http {
namespace {

using testing::clientOptions;
using testing::getRequest;
using testing::okResponse;
using testing::SeenRequest;
using testing::TestConn;
using testing::TestServer;

// Waits for `pred` under `mu`, up to `limit`; true when it held.
template <class Pred>
bool waitFor(std::mutex& mu, std::condition_variable& cv, std::chrono::seconds limit, Pred pred) {
  std::unique_lock lock(mu);
  return cv.wait_for(lock, limit, pred);
}

TEST(HttpClientCoroutines, FiftyRequestsWaitAtOnceOnTwoThreads) {
  constexpr int kTasks = 50;
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  bool all_waiting = false;
  // The server answers nobody until all requests are in: it only can if
  // none of the waiting requests holds one of the client's two threads.
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    if (!c.readRequest(req)) return;
    {
      std::unique_lock lock(mu);
      if (++arrived == kTasks) all_waiting = true;
      cv.notify_all();
      cv.wait_for(lock, std::chrono::seconds(20), [&] { return all_waiting; });
    }
    c.send(okResponse("slow " + req.target));
  });
  ClientOptions o = clientOptions(60);
  o.threads = 2;
  HttpClient client(o);
  int done = 0, ok = 0;
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(client.spawn([&, i](Suspender& s) {
      auto res = client.send(getRequest(server.url("/" + std::to_string(i))), &s);
      bool good = false;
      if (res) {
        auto body = (*res)->readAll(100);
        good = body && *body == "slow /" + std::to_string(i);
      }
      std::lock_guard lock(mu);
      ok += good;
      ++done;
      cv.notify_all();
    }));
  }
  ASSERT_TRUE(waitFor(mu, cv, std::chrono::seconds(90), [&] { return done == kTasks; }));
  std::lock_guard lock(mu);
  EXPECT_TRUE(all_waiting) << "only " << arrived << " requests were in flight at once";
  EXPECT_EQ(ok, kTasks);
}

TEST(HttpClientCoroutines, PlainThreadsBlockWhileCoroutinesDoTheWork) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    while (c.readRequest(req)) c.send(okResponse(req.target));
  });
  HttpClient client(clientOptions());
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t)
    callers.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        std::string path = "/" + std::to_string(t) + "/" + std::to_string(i);
        auto res = client.send(getRequest(server.url(path)), nullptr);
        if (res && *(*res)->readAll(100) == path) ++ok;
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok, 40);
  EXPECT_LE(server.connections(), 8) << "kept-alive connections were reused";
}

TEST(HttpClientCoroutines, PauseSuspendsACoroutineAndSleepsAPlainThread) {
  HttpClient client(clientOptions());
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(client.spawn([&](Suspender& s) {
      repo::Call call{&s, "req-1"};
      repo::pauseCall(call, std::chrono::milliseconds(20));
      s.pause(std::chrono::milliseconds(1));
      std::lock_guard lock(mu);
      ++finished;
      cv.notify_all();
    }));
  repo::pauseCall(repo::Call{}, std::chrono::milliseconds(1));
  EXPECT_TRUE(waitFor(mu, cv, std::chrono::seconds(30), [&] { return finished == 2; }));
}

TEST(HttpClientCoroutines, TheDestructorEndsTasksStillWaitingOnTheNetwork) {
  std::atomic<bool> got_request{false};
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    got_request = c.readRequest(req);
    testing::waitForClose(c);  // never answers
  });
  std::string error;
  {
    HttpClient client(clientOptions(600));
    ASSERT_TRUE(client.spawn([&](Suspender& s) {
      auto res = client.send(getRequest(server.url("/")), &s);
      error = res ? "answered" : res.error().message;
    }));
    while (!got_request) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }  // would wait out the 600 s timeout if the destructor did not fail the socket
  EXPECT_EQ(error, "upstream " + server.hostPort() + ": connection closed before the response");
}

TEST(HttpClientCoroutines, ShutdownEndsAStalledBodyReadAndRefusesLaterRequests) {
  std::atomic<bool> got_request{false};
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    if (!c.readRequest(req)) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
    got_request = true;
    testing::waitForClose(c);  // the rest never comes
  });
  HttpClient client(clientOptions(600));
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::string> error;
  ASSERT_TRUE(client.spawn([&](Suspender& s) {
    auto res = client.send(getRequest(server.url("/")), &s);
    auto body = res ? (*res)->readAll(1 << 20) : Result<std::string>(tl::unexpected(res.error()));
    std::lock_guard lock(mu);
    error = body ? "read it all" : body.error().message;
    cv.notify_all();
  }));
  while (!got_request) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  client.shutdown();  // the client itself lives on (its owner is still stopping)
  ASSERT_TRUE(waitFor(mu, cv, std::chrono::seconds(30), [&] { return error.has_value(); }))
      << "the read would wait out the 600 s timeout";
  EXPECT_EQ(*error, "upstream " + server.hostPort() + ": connection closed before the end of the body");
  auto later = client.send(getRequest(server.url("/")), nullptr);
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, ErrorCode::Unavailable);
}

}  // namespace
}  // namespace berth::http
