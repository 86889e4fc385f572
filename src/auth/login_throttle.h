// Slows down repeated failed logins from one source address: after
// `free_failures` failures, each further attempt must wait 2^(n-free) seconds
// (capped at 256 s) or is answered 429 without checking the password.
// Other addresses are unaffected. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace berth::auth {

class LoginThrottle {
 public:
  explicit LoginThrottle(unsigned free_failures) : free_(free_failures) {}
  // Seconds the address must still wait (0 = may try now).
  int64_t waitSeconds(const std::string& address, int64_t now);
  void failed(const std::string& address, int64_t now);
  void succeeded(const std::string& address);

 private:
  struct Entry {
    unsigned failures = 0;
    int64_t blocked_until = 0;
    int64_t last = 0;
  };
  unsigned free_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// "1.2.3.4:5678" -> "1.2.3.4", "[::1]:5" -> "::1".
std::string addressHost(const std::string& address);

}  // namespace berth::auth
