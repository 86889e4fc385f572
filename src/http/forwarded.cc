#include "http/forwarded.h"

#include <stdexcept>

namespace berth::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Every comma-separated item of every value, in order.
std::vector<std::string_view> items(const std::vector<std::string_view>& values) {
  std::vector<std::string_view> out;
  for (std::string_view v : values) {
    while (true) {
      auto comma = v.find(',');
      out.push_back(trim(v.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return out;
}

// An X-Forwarded-For item: an address, possibly with a port ("1.2.3.4:5", "[::1]:5").
std::optional<IpAddress> forwardedAddress(std::string_view item) {
  if (auto a = IpAddress::parse(item)) return a;
  if (item.starts_with('[')) {
    auto close = item.find(']');
    return close == std::string_view::npos ? std::nullopt : IpAddress::parse(item.substr(0, close + 1));
  }
  auto colon = item.find(':');
  if (colon == std::string_view::npos || item.find(':', colon + 1) != std::string_view::npos) return std::nullopt;
  auto a = IpAddress::parse(item.substr(0, colon));
  return a && a->v4 ? a : std::nullopt;
}

}  // namespace

TrustedProxies TrustedProxies::fromStrings(const std::vector<std::string>& cidrs) {
  std::vector<Cidr> blocks;
  for (const auto& s : cidrs) {
    auto c = Cidr::parse(s);
    if (!c) throw std::runtime_error("server.trusted_proxies: " + c.error().message);
    blocks.push_back(*c);
  }
  return TrustedProxies(std::move(blocks));
}

bool TrustedProxies::trusts(const IpAddress& a) const {
  for (const auto& b : blocks_)
    if (b.contains(a)) return true;
  return false;
}

std::string addressHost(const std::string& a) {
  if (!a.empty() && a[0] == '[') {
    auto close = a.find(']');
    return close == std::string::npos ? a : a.substr(1, close - 1);
  }
  auto colon = a.rfind(':');
  return colon == std::string::npos || a.find(':') != colon ? a : a.substr(0, colon);
}

ClientView resolveClient(const TrustedProxies& trusted, const std::string& peer,
                         const std::vector<std::string_view>& forwarded_for,
                         const std::vector<std::string_view>& forwarded_proto) {
  std::string host = addressHost(peer);
  auto peer_ip = IpAddress::parse(host);
  ClientView out{peer_ip ? peer_ip->str() : host, {}};
  if (!peer_ip || !trusted.trusts(*peer_ip)) return out;
  // Walk from the proxy next to us towards the client; stop at the first hop
  // we do not trust (or cannot read: what lies left of it is unverifiable).
  auto hops = items(forwarded_for);
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    auto a = forwardedAddress(*it);
    if (!a) break;
    out.address = a->str();
    if (!trusted.trusts(*a)) break;
  }
  auto protos = items(forwarded_proto);
  if (!protos.empty()) {
    std::string p(protos.back());
    for (auto& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (p == "http" || p == "https") out.proto = p;
  }
  return out;
}

}  // namespace berth::http
