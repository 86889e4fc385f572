#include "api/byte_ranges.h"

#include <algorithm>

namespace berth::api {
namespace {

// Decimal digits only. At most 19 of them, so that the value fits in uint64_t
// and `last + 1` cannot overflow.
std::optional<uint64_t> number(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

std::optional<ByteRange> parseRange(std::string_view h, uint64_t size) {
  if (!h.starts_with("bytes=") || h.find(',') != std::string_view::npos) return std::nullopt;
  h.remove_prefix(6);
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto a = h.substr(0, dash), b = h.substr(dash + 1);
  if (a.empty()) {  // suffix: the last n bytes
    auto n = number(b);
    if (!n || *n == 0 || size == 0) return std::nullopt;
    uint64_t len = std::min(*n, size);
    return ByteRange{size - len, size - 1};
  }
  auto first = number(a);
  if (!first || *first >= size) return std::nullopt;
  uint64_t last = size - 1;
  if (!b.empty()) {
    auto l = number(b);
    if (!l || *l < *first) return std::nullopt;
    last = std::min(*l, size - 1);
  }
  return ByteRange{*first, last};
}

std::optional<ByteRange> parseContentRange(std::string_view h) {
  if (h.starts_with("bytes ")) h.remove_prefix(6);
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = number(h.substr(0, dash)), last = number(h.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return ByteRange{*first, *last};
}

}  // namespace berth::api
