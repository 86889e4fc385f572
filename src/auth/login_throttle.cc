#include "auth/login_throttle.h"

#include <algorithm>

namespace berth::auth {

std::string addressHost(const std::string& a) {
  if (!a.empty() && a[0] == '[') return a.substr(1, a.find(']') - 1);
  return a.substr(0, a.rfind(':'));
}

int64_t LoginThrottle::waitSeconds(const std::string& address, int64_t now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(address);
  if (it == entries_.end()) return 0;
  return std::max<int64_t>(0, it->second.blocked_until - now);
}

void LoginThrottle::failed(const std::string& address, int64_t now) {
  std::lock_guard lock(mu_);
  if (entries_.size() > 100000) entries_.clear();  // bound memory under a spray of addresses
  auto& e = entries_[address];
  if (now - e.last > 3600) e.failures = 0;  // an hour of quiet forgives
  e.last = now;
  ++e.failures;
  if (e.failures >= free_) {
    unsigned exp = std::min<unsigned>(e.failures - free_, 8);
    e.blocked_until = now + (int64_t{1} << exp);
  }
}

void LoginThrottle::succeeded(const std::string& address) {
  std::lock_guard lock(mu_);
  entries_.erase(address);
}

}  // namespace berth::auth
