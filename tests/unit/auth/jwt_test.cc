#include "auth/jwt.h"

#include <gtest/gtest.h>

namespace berth::auth {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

TEST(Jwt, SignsAndVerifies) {
  auto token = signJwt({{"sub", "alice"}, {"exp", 2000}}, kKey);
  auto claims = verifyJwt(token, kKey, 1000);
  ASSERT_TRUE(claims) << claims.error().detail;
  EXPECT_EQ((*claims)["sub"], "alice");
}

TEST(Jwt, RefusesExpiredTamperedAndForeign) {
  auto token = signJwt({{"sub", "alice"}, {"exp", 2000}}, kKey);
  EXPECT_FALSE(verifyJwt(token, kKey, 2000)) << "expired";
  EXPECT_FALSE(verifyJwt(token, "another key, just as long as kKey", 1000)) << "other key";
  std::string tampered = token;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verifyJwt(tampered, kKey, 1000)) << "signature";
  // Changing the claims invalidates the signature.
  auto dot = token.find('.');
  std::string other_claims = base64UrlEncode(R"({"sub":"admin","exp":2000})");
  EXPECT_FALSE(verifyJwt(token.substr(0, dot + 1) + other_claims + token.substr(token.rfind('.')), kKey, 1000));
  EXPECT_FALSE(verifyJwt("garbage", kKey, 1000));
  EXPECT_FALSE(verifyJwt("a.b.c", kKey, 1000));
  EXPECT_FALSE(verifyJwt("", kKey, 1000));
  EXPECT_FALSE(verifyJwt(std::string(10000, 'a'), kKey, 1000));
}

TEST(Jwt, RefusesAlgNone) {
  std::string head = base64UrlEncode(R"({"alg":"none","typ":"JWT"})");
  std::string body = base64UrlEncode(R"({"sub":"admin","exp":99999999999})");
  auto r = verifyJwt(head + "." + body + ".", kKey, 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::Unauthorized);
  std::string hs512 = base64UrlEncode(R"({"alg":"HS512","typ":"JWT"})");
  EXPECT_FALSE(verifyJwt(hs512 + "." + body + ".AAAA", kKey, 1000));
}

TEST(Base64, RoundTrips) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    std::string out;
    ASSERT_TRUE(base64Decode(base64Encode(s), out));
    EXPECT_EQ(out, s);
    ASSERT_TRUE(base64UrlDecode(base64UrlEncode(s), out));
    EXPECT_EQ(out, s);
  }
  std::string out;
  EXPECT_FALSE(base64Decode("abc", out));
}

}  // namespace
}  // namespace berth::auth
