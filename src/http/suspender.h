// A request's (or a background task's) coroutine, as code outside the front
// end sees it: something that can wait without holding a thread. Code that
// performs Asio operations reaches the yield context; everything else only
// passes the pointer along (repo::Call).
//
// Internal to src/http and the outbound client (it pulls in Asio).
#pragma once

#include <boost/asio/spawn.hpp>
#include <chrono>

namespace berth::http {
namespace asio = boost::asio;

class Suspender {
 public:
  explicit Suspender(asio::yield_context yield) : yield_(std::move(yield)) {}
  asio::yield_context& yield() { return yield_; }
  // Suspends the coroutine for about `d` (a timer on its own executor).
  void pause(std::chrono::milliseconds d);

 private:
  asio::yield_context yield_;
};

}  // namespace berth::http
