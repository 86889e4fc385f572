// Concurrent requests for the same thing share one piece of work: the first
// caller runs it (in its own coroutine), the others wait for its result
// without holding a thread (a Notifier: suspended, woken when it is there)
// and get the same answer.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "berth/core/error.h"
#include "berth/repo/call.h"
#include "repo/notifier.h"

namespace berth::repo::remote {

template <class T>
class SingleFlight {
 public:
  Result<T> run(const std::string& key, const Call& call, const std::function<Result<T>()>& work) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard lock(mu_);
      auto& slot = flights_[key];
      if (!slot) {
        slot = std::make_shared<Flight>();
        leader = true;
      }
      flight = slot;
    }
    if (leader) {
      std::optional<Result<T>> result;
      try {
        result = work();
      } catch (...) {  // the waiters must not wait for ever
        finish(key, *flight, tl::unexpected(Error{ErrorCode::Unknown, "the shared request failed", {}, true}));
        throw;
      }
      finish(key, *flight, *result);
      return *result;
    }
    for (;;) {
      uint64_t seen = flight->done.generation();
      {
        std::lock_guard lock(mu_);
        if (flight->result) return *flight->result;
      }
      flight->done.wait(call, seen, std::chrono::milliseconds(500));
    }
  }

 private:
  struct Flight {
    std::optional<Result<T>> result;
    Notifier done;
  };
  void finish(const std::string& key, Flight& flight, Result<T> result) {
    {
      std::lock_guard lock(mu_);
      flight.result = std::move(result);
      flights_.erase(key);
    }
    flight.done.notifyAll();
  }
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;
};

}  // namespace berth::repo::remote
