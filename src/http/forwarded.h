// Who the client really is behind a reverse proxy. X-Forwarded-For and
// X-Forwarded-Proto are believed only from a peer in server.trusted_proxies;
// from anyone else they are ignored, since any client can write them.
// Pure functions over plain values; thread-safe (TrustedProxies is immutable).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "berth/core/ip_address.h"

namespace berth::http {

class TrustedProxies {
 public:
  TrustedProxies() = default;
  explicit TrustedProxies(std::vector<Cidr> blocks) : blocks_(std::move(blocks)) {}
  // Throws std::runtime_error naming the bad entry (startup only).
  static TrustedProxies fromStrings(const std::vector<std::string>& cidrs);
  bool trusts(const IpAddress& a) const;
  bool empty() const { return blocks_.empty(); }

 private:
  std::vector<Cidr> blocks_;
};

struct ClientView {
  std::string address;  // the client's IP address, without a port
  std::string proto;    // "http" or "https" as a trusted proxy reported it; empty otherwise
};

// `peer` is the socket's address ("1.2.3.4:5", "[::1]:5"). `forwarded_for`
// and `forwarded_proto` are every value of those headers, in order. From a
// trusted peer, the client is the right-most X-Forwarded-For address that is
// not itself a trusted proxy (the left-most when all are), and the scheme the
// right-most X-Forwarded-Proto value (what the proxy next to us saw).
ClientView resolveClient(const TrustedProxies& trusted, const std::string& peer,
                         const std::vector<std::string_view>& forwarded_for,
                         const std::vector<std::string_view>& forwarded_proto);

// "1.2.3.4:5678" -> "1.2.3.4", "[::1]:5" -> "::1"; anything else unchanged.
std::string addressHost(const std::string& address);

}  // namespace berth::http
