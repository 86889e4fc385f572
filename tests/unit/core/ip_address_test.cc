#include "berth/core/ip_address.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

IpAddress ip(const char* s) {
  auto a = IpAddress::parse(s);
  EXPECT_TRUE(a) << s;
  return a.value_or(IpAddress{});
}
Cidr cidr(const char* s) {
  auto c = Cidr::parse(s);
  EXPECT_TRUE(c) << s << ": " << (c ? "" : c.error().message);
  return c.value_or(Cidr{});
}

TEST(IpAddress, ParsesBothFamiliesAndNothingElse) {
  EXPECT_TRUE(ip("10.1.2.3").v4);
  EXPECT_EQ(ip("10.1.2.3").str(), "10.1.2.3");
  EXPECT_FALSE(ip("::1").v4);
  EXPECT_EQ(ip("[2001:db8::1]").str(), "2001:db8::1");
  // What a dual-stack socket reports for an IPv4 peer is that IPv4 address.
  EXPECT_TRUE(ip("::ffff:192.0.2.7").v4);
  EXPECT_EQ(ip("::ffff:192.0.2.7"), ip("192.0.2.7"));
  for (const char* bad : {"", "10.1.2", "10.1.2.3.4", "256.1.1.1", "10.1.2.3:80", "host", "::1::2", "[::1",
                          " 10.1.2.3", "10.1.2.3/8"})
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
}

TEST(Cidr, MatchesIpv4Blocks) {
  Cidr c = cidr("10.0.0.0/8");
  EXPECT_TRUE(c.contains(ip("10.0.0.0")));
  EXPECT_TRUE(c.contains(ip("10.255.255.255")));
  EXPECT_FALSE(c.contains(ip("11.0.0.0")));
  EXPECT_FALSE(c.contains(ip("9.255.255.255")));
  Cidr odd = cidr("192.168.4.0/22");  // a prefix that ends inside a byte
  EXPECT_TRUE(odd.contains(ip("192.168.7.255")));
  EXPECT_FALSE(odd.contains(ip("192.168.8.0")));
  EXPECT_FALSE(odd.contains(ip("192.168.3.255")));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
  Cidr one = cidr("127.0.0.1");  // a bare address is /32
  EXPECT_EQ(one.prefix, 32u);
  EXPECT_TRUE(one.contains(ip("127.0.0.1")));
  EXPECT_FALSE(one.contains(ip("127.0.0.2")));
  EXPECT_TRUE(cidr("127.0.0.1/32").contains(ip("::ffff:127.0.0.1")));
}

TEST(Cidr, MatchesIpv6BlocksAndKeepsTheFamiliesApart) {
  Cidr c = cidr("fd00::/8");
  EXPECT_TRUE(c.contains(ip("fd12:3456::1")));
  EXPECT_FALSE(c.contains(ip("fe80::1")));
  Cidr odd = cidr("2001:db8:abcd:12::/63");
  EXPECT_TRUE(odd.contains(ip("2001:db8:abcd:13::ffff")));
  EXPECT_FALSE(odd.contains(ip("2001:db8:abcd:14::")));
  EXPECT_EQ(cidr("::1").prefix, 128u);
  EXPECT_TRUE(cidr("::1").contains(ip("::1")));
  EXPECT_FALSE(cidr("::/0").contains(ip("10.0.0.1"))) << "an IPv6 block holds no IPv4 address";
  EXPECT_FALSE(cidr("0.0.0.0/0").contains(ip("::1")));
}

TEST(Cidr, RefusesMalformedBlocksWithAReason) {
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8/8",
                          "10.0.0.0/x", "example.com/8", "10.0.0.0/0008"}) {
    auto c = Cidr::parse(bad);
    EXPECT_FALSE(c) << bad;
    if (!c) {
      EXPECT_NE(c.error().message.find("not a CIDR block"), std::string::npos) << c.error().message;
    }
  }
  auto host_bits = Cidr::parse("10.1.2.3/8");
  ASSERT_FALSE(host_bits);
  EXPECT_NE(host_bits.error().message.find("10.0.0.0/8"), std::string::npos) << host_bits.error().message;
  EXPECT_FALSE(Cidr::parse("fd00::1/8"));
}

}  // namespace
}  // namespace berth
