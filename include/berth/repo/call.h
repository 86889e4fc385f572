// What travels with every repository call: who asks, and how the call may
// wait. A remote repository waits on its upstream and a request waits on
// another's fetch; with a suspender that waiting suspends the request's
// coroutine instead of holding a worker thread (docs/design.md).
#pragma once

#include <chrono>
#include <string>

namespace berth::http {
class Suspender;  // src/http/suspender.h
}

namespace berth::repo {

struct Call {
  // The calling request's coroutine; null when the caller is a plain thread
  // (tests, background work): waiting then blocks that thread.
  http::Suspender* suspender = nullptr;
  std::string request_id;
};

// Waits about `d`: suspends the call's coroutine, or sleeps on a plain thread.
void pauseCall(const Call& call, std::chrono::milliseconds d);

}  // namespace berth::repo
