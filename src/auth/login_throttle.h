// Counts failed logins per (user name, client address) pair. After
// `free_failures` failures, each further wrong attempt of that pair is
// answered 429 with a back-off of 2^n seconds (capped at 256 s) as its
// Retry-After. It never blocks a correct password and never touches another
// pair: behind a proxy every user shares one address, so an address alone
// would let anyone lock everyone out. An hour without failures forgives a pair.
//
// Memory is bounded: pairs are keyed by a SHA-256 of (user, address) and at
// most `max_entries` are kept, the least recently failed dropped first.
// Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace berth::auth {

class LoginThrottle {
 public:
  explicit LoginThrottle(unsigned free_failures, std::size_t max_entries = 100000)
      : free_(free_failures), max_(max_entries) {}
  // Whether the pair has used up its free failures (its next wrong attempt gets 429).
  bool overLimit(const std::string& user, const std::string& address, int64_t now);
  // Records a wrong attempt. 0 while within the free failures, else the
  // seconds the client is told to wait (Retry-After).
  int64_t failed(const std::string& user, const std::string& address, int64_t now);
  // A password proved right: the pair starts afresh.
  void succeeded(const std::string& user, const std::string& address);
  std::size_t size();

 private:
  struct Entry {
    unsigned failures = 0;
    int64_t last = 0;
    std::list<std::string>::iterator order;  // position in order_
  };
  static std::string key(const std::string& user, const std::string& address);

  unsigned free_;
  std::size_t max_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  // least recently failed first
};

}  // namespace berth::auth
