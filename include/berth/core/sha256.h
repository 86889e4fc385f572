// Incremental SHA-256 over OpenSSL EVP (uses the CPU's SHA extensions).
// Not thread-safe; one hasher per stream. Movable, not copyable.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "berth/core/digest.h"

namespace berth {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, std::size_t size);
  // Finishes the hash; the hasher is reset and may be reused.
  Digest finish();

  static Digest of(const void* data, std::size_t size);
  static Digest of(const std::string& s) { return of(s.data(), s.size()); }

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace berth
