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

namespace berth::auth {
enum class Action;  // berth/auth/access_controller.h
}

namespace berth::repo {

// What the caller may do in repositories other than the one the request
// addressed (and already authorized): a virtual repository asks before it
// reads from or writes to a member.
class CallerRights {
 public:
  virtual ~CallerRights() = default;
  virtual bool allows(const std::string& repo_key, const std::string& image, auth::Action action) const = 0;
};

struct Call {
  // The calling request's coroutine; null when the caller is a plain thread
  // (tests, background work): waiting then blocks that thread.
  http::Suspender* suspender = nullptr;
  std::string request_id;
  // Null: a caller with every right (background work, an open registry).
  const CallerRights* rights = nullptr;
  bool allows(const std::string& repo_key, const std::string& image, auth::Action action) const {
    return !rights || rights->allows(repo_key, image, action);
  }
};

// Waits about `d`: suspends the call's coroutine, or sleeps on a plain thread.
void pauseCall(const Call& call, std::chrono::milliseconds d);

}  // namespace berth::repo
