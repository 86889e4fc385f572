// A content digest "sha256:<64 lowercase hex>". Berth stores and verifies
// sha256 only (the algorithm every client uses); other well-formed algorithms
// are refused with UNSUPPORTED-free DIGEST_INVALID so nothing unverifiable is
// ever stored.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "berth/core/error.h"

namespace berth {

class Digest {
 public:
  Digest() = default;
  // Parses and validates; DIGEST_INVALID on anything but a sha256 digest.
  static Result<Digest> parse(std::string_view text);
  static Digest fromHex(std::string hex) { Digest d; d.hex_ = std::move(hex); return d; }

  const std::string& hex() const { return hex_; }
  std::string str() const { return "sha256:" + hex_; }
  bool empty() const { return hex_.empty(); }

  auto operator<=>(const Digest&) const = default;

 private:
  std::string hex_;
};

// True for "algorithm:encoded" per the spec's grammar (any algorithm).
bool looksLikeDigest(std::string_view text);

}  // namespace berth
