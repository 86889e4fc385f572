#include "berth/core/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace berth {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.v4 = true;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), kMapped, sizeof kMapped) == 0) {
    std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
    std::memset(a.bytes.data() + 4, 0, 12);
    a.v4 = true;
  }
  return a;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(v4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::BadRequest, "'" + std::string(text) + "' is not a CIDR block: " + why);
  };
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return bad("expected an IPv4 or IPv6 address such as 10.0.0.0/8 or fd00::/8");
  Cidr c{*addr, addr->v4 ? 32u : 128u};
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string_view::npos)
      return bad("the prefix length must be a number");
    unsigned n = static_cast<unsigned>(std::stoul(std::string(bits)));
    if (n > c.prefix) return bad("the prefix length is at most " + std::to_string(c.prefix));
    c.prefix = n;
  }
  // Host bits set usually mean a typo (10.1.2.3/8 for 10.0.0.0/8): say so.
  IpAddress masked = c.base;
  for (unsigned i = 0; i < 16; ++i) {
    unsigned keep = c.prefix > i * 8 ? std::min(8u, c.prefix - i * 8) : 0;
    masked.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  if (!(masked == c.base))
    return bad("host bits are set (did you mean " + masked.str() + "/" + std::to_string(c.prefix) + "?)");
  return c;
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.v4 != base.v4) return false;
  unsigned full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (base.bytes[full] & mask);
}

}  // namespace berth
