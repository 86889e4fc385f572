#include "auth/login_throttle.h"

#include <algorithm>

#include "berth/core/sha256.h"

namespace berth::auth {
namespace {
constexpr int64_t kForgiveSeconds = 3600;
constexpr unsigned kMaxDoublings = 8;  // 256 s
}  // namespace

std::string LoginThrottle::key(const std::string& user, const std::string& address) {
  // Fixed size whatever the client sends as a user name.
  return Sha256::of(user + '\0' + address).str();
}

bool LoginThrottle::overLimit(const std::string& user, const std::string& address, int64_t now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key(user, address));
  return it != entries_.end() && now - it->second.last <= kForgiveSeconds && it->second.failures >= free_;
}

int64_t LoginThrottle::failed(const std::string& user, const std::string& address, int64_t now) {
  std::string k = key(user, address);
  std::lock_guard lock(mu_);
  auto it = entries_.find(k);
  if (it == entries_.end()) {
    if (max_ == 0) return 0;
    if (entries_.size() >= max_) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
    it = entries_.emplace(k, Entry{0, now, order_.insert(order_.end(), k)}).first;
  } else {
    order_.splice(order_.end(), order_, it->second.order);
  }
  Entry& e = it->second;
  if (now - e.last > kForgiveSeconds) e.failures = 0;
  e.last = now;
  ++e.failures;
  if (e.failures <= free_) return 0;
  return int64_t{1} << std::min(e.failures - free_ - 1, kMaxDoublings);
}

void LoginThrottle::succeeded(const std::string& user, const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key(user, address));
  if (it == entries_.end()) return;
  order_.erase(it->second.order);
  entries_.erase(it);
}

std::size_t LoginThrottle::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace berth::auth
