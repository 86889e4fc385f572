// IP addresses and CIDR blocks, IPv4 and IPv6 (server.trusted_proxies).
// Plain values; parsing never throws.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "berth/core/error.h"

namespace berth {

struct IpAddress {
  // IPv4 in the first 4 bytes; an IPv4-mapped IPv6 address (::ffff:a.b.c.d,
  // what a dual-stack socket reports for an IPv4 peer) is stored as IPv4.
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;

  // "10.0.0.1", "::1", "[::1]". nullopt for anything else (ports included).
  static std::optional<IpAddress> parse(std::string_view text);
  std::string str() const;
  bool operator==(const IpAddress&) const = default;
};

struct Cidr {
  IpAddress base;
  unsigned prefix = 0;  // bits: 0..32 for IPv4, 0..128 for IPv6

  // "10.0.0.0/8", "fd00::/8"; a bare address is /32 or /128. BAD_REQUEST
  // (with the reason) for a malformed block or one with host bits set.
  static Result<Cidr> parse(std::string_view text);
  // An IPv4 block holds IPv4 addresses only, an IPv6 block IPv6 ones only.
  bool contains(const IpAddress& a) const;
};

}  // namespace berth
