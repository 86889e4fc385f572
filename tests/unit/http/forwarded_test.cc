#include "http/forwarded.h"

#include <gtest/gtest.h>

namespace berth::http {
namespace {

TrustedProxies proxies(std::vector<std::string> cidrs) { return TrustedProxies::fromStrings(cidrs); }

ClientView resolve(const TrustedProxies& t, const std::string& peer, std::vector<std::string_view> xff,
                   std::vector<std::string_view> xfp = {}) {
  return resolveClient(t, peer, xff, xfp);
}

TEST(Forwarded, HeadersFromAnUntrustedPeerAreIgnored) {
  for (const auto& t : {TrustedProxies(), proxies({"10.0.0.0/8"})}) {
    auto v = resolve(t, "192.0.2.1:4000", {"198.51.100.7"}, {"https"});
    EXPECT_EQ(v.address, "192.0.2.1");
    EXPECT_EQ(v.proto, "") << "a client cannot claim https for itself";
  }
  EXPECT_EQ(resolve(TrustedProxies(), "[::1]:4000", {"198.51.100.7"}).address, "::1");
}

TEST(Forwarded, TheRightMostUntrustedAddressIsTheClient) {
  auto t = proxies({"10.0.0.0/8", "fd00::/8"});
  // The client may write anything left of what our proxies appended.
  auto v = resolve(t, "10.0.0.5:4000", {"1.1.1.1, 203.0.113.9, 10.0.0.7"}, {"https"});
  EXPECT_EQ(v.address, "203.0.113.9");
  EXPECT_EQ(v.proto, "https");
  // Several header fields are one list, in order.
  EXPECT_EQ(resolve(t, "10.0.0.5:4000", {"1.1.1.1", "203.0.113.9", "10.0.0.7"}).address, "203.0.113.9");
  // IPv6 hops, with or without brackets and ports.
  EXPECT_EQ(resolve(t, "[fd00::2]:4000", {"2001:db8::9, [fd00::3]:77"}).address, "2001:db8::9");
  EXPECT_EQ(resolve(t, "10.0.0.5:4000", {"203.0.113.9:5555"}).address, "203.0.113.9");
  // A peer reported as IPv4-mapped IPv6 (a dual-stack listener) is matched as IPv4.
  EXPECT_EQ(resolve(t, "[::ffff:10.0.0.5]:4000", {"203.0.113.9"}).address, "203.0.113.9");
}

TEST(Forwarded, WithoutAUsableHeaderThePeerOrTheLastTrustedHopIsTheClient) {
  auto t = proxies({"10.0.0.0/8"});
  EXPECT_EQ(resolve(t, "10.0.0.5:4000", {}).address, "10.0.0.5");
  EXPECT_EQ(resolve(t, "10.0.0.5:4000", {""}).address, "10.0.0.5");
  // Everything trusted: the left-most hop is the best we know.
  EXPECT_EQ(resolve(t, "10.0.0.5:4000", {"10.0.0.9, 10.0.0.8"}).address, "10.0.0.9");
  // Garbage stops the walk: nothing left of it can be verified.
  EXPECT_EQ(resolve(t, "10.0.0.5:4000", {"203.0.113.9, unknown, 10.0.0.8"}).address, "10.0.0.8");
  EXPECT_EQ(resolve(t, "10.0.0.5:4000", {"nonsense"}).address, "10.0.0.5");
}

TEST(Forwarded, TheProtoIsTheRightMostValueAndOnlyHttpOrHttps) {
  auto t = proxies({"127.0.0.0/8"});
  EXPECT_EQ(resolve(t, "127.0.0.1:1", {}, {"HTTPS"}).proto, "https");
  EXPECT_EQ(resolve(t, "127.0.0.1:1", {}, {"https, http"}).proto, "http");
  EXPECT_EQ(resolve(t, "127.0.0.1:1", {}, {"http", "https"}).proto, "https");
  EXPECT_EQ(resolve(t, "127.0.0.1:1", {}, {"gopher"}).proto, "");
  EXPECT_EQ(resolve(t, "127.0.0.1:1", {}, {}).proto, "");
}

TEST(Forwarded, BadTrustedProxiesAreRefusedByName) {
  try {
    proxies({"10.0.0.0/8", "10.0.0.0/40"});
    ADD_FAILURE() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("server.trusted_proxies"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("10.0.0.0/40"), std::string::npos) << e.what();
  }
}

TEST(Forwarded, AddressHost) {
  EXPECT_EQ(addressHost("127.0.0.1:5000"), "127.0.0.1");
  EXPECT_EQ(addressHost("[::1]:5000"), "::1");
  EXPECT_EQ(addressHost("::1"), "::1");
  EXPECT_EQ(addressHost("host"), "host");
}

}  // namespace
}  // namespace berth::http
