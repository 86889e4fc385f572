// Deterministic test data and SHA-256 digests.
//
// Large bodies are never held in memory: a blob of N bytes is an 8 MiB
// pseudo-random pattern repeated (seeded), hashed in a pre-pass and then
// streamed from that same buffer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace berth_bench {

// Incremental SHA-256; digest() gives "sha256:<hex>".
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* p, size_t n);
  std::string digest();

 private:
  evp_md_ctx_st* ctx_;
};

std::string sha256Of(std::string_view s);

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Deterministic pseudo-random bytes: word i of stream `seed` is mix64(seed*φ + i).
void fillRandom(uint64_t seed, uint8_t* dst, size_t len);
std::string randomBytes(uint64_t seed, size_t len);

// A large blob: an 8 MiB pseudo-random pattern repeated up to `size` bytes.
class Pattern {
 public:
  static constexpr uint64_t kPeriod = 8 * MiB;
  Pattern(uint64_t seed, uint64_t size);
  uint64_t size() const { return size_; }

  // Contiguous bytes at `off`, at most `max` of them.
  std::pair<const uint8_t*, size_t> at(uint64_t off, uint64_t max) const {
    uint64_t in = off % kPeriod;
    uint64_t n = std::min<uint64_t>({kPeriod - in, max, size_ - off});
    return {buf_.data() + in, static_cast<size_t>(n)};
  }

  // Calls fn(data, n) on consecutive spans of at most `max_span` bytes covering [off, off + len).
  template <class Fn>
  void forEachSpan(uint64_t off, uint64_t len, uint64_t max_span, Fn&& fn) const {
    for (uint64_t end = off + len; off < end;) {
      auto [p, n] = at(off, std::min(end - off, max_span));
      fn(p, n);
      off += n;
    }
  }

  std::string digest() const;

 private:
  uint64_t size_;
  std::vector<uint8_t> buf_;
};

}  // namespace berth_bench
