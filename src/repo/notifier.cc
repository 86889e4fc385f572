#include "repo/notifier.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>

#include "http/suspender.h"

namespace berth::repo {

namespace asio = boost::asio;

// A coroutine's wait: a timer on the coroutine's own executor (a strand),
// cancelled to wake it. Shared with the wake-up handler, which may run after
// the wait ended by its timeout.
struct Notifier::Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
};

uint64_t Notifier::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void Notifier::wait(const Call& call, uint64_t seen, std::chrono::milliseconds timeout) {
  if (!call.suspender) {
    std::unique_lock lock(mu_);
    threads_.wait_for(lock, timeout, [&] { return generation_ != seen; });
    return;
  }
  auto& yield = call.suspender->yield();
  auto w = std::make_shared<Waiter>(yield.get_executor());
  w->timer.expires_after(timeout);
  {
    std::lock_guard lock(mu_);
    if (generation_ != seen) return;
    waiters_.push_back(w);
  }
  // Leaves the list however the wait ends: woken, timed out, or unwound (a
  // coroutine destroyed while suspended, when its executor shuts down).
  struct Leave {
    Notifier& n;
    const std::shared_ptr<Waiter>& w;
    ~Leave() {
      std::lock_guard lock(n.mu_);
      if (auto it = std::find(n.waiters_.begin(), n.waiters_.end(), w); it != n.waiters_.end()) n.waiters_.erase(it);
    }
  } leave{*this, w};
  // The wake-up is posted to this coroutine's strand, so it runs only once
  // the coroutine is suspended here: registering and then waiting cannot
  // miss it.
  boost::system::error_code ignored;
  w->timer.async_wait(yield[ignored]);
}

void Notifier::notifyAll() {
  std::vector<std::shared_ptr<Waiter>> woken;
  {
    std::lock_guard lock(mu_);
    ++generation_;
    woken.swap(waiters_);
  }
  threads_.notify_all();
  for (auto& w : woken) asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

}  // namespace berth::repo
