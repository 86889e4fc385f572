// JWT parsing and verification (src/auth/jwt.h) and the base64 codecs under it.
// Three ways in: the input as a token (what an unauthenticated client sends);
// the input as header and claims of a token signed with the key (to reach the
// claims parser behind the signature check, with an oracle for the answer);
// the input as bytes to encode and decode.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "auth/jwt.h"
#include "fuzz_check.h"

namespace {

using nlohmann::json;

const std::string kKey = "0123456789abcdef0123456789abcdef";
constexpr int64_t kNow = 1700000000;

std::string hmac(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// What verifyJwt must decide for a correctly signed token with these parts.
bool shouldAccept(const std::string& token, const std::string& header_text, const std::string& claims_text) {
  if (token.size() > 8192) return false;
  auto h = json::parse(header_text, nullptr, false);
  if (h.is_discarded() || !h.is_object() || !h.contains("alg") || h["alg"] != "HS256") return false;
  auto c = json::parse(claims_text, nullptr, false);
  if (c.is_discarded() || !c.is_object()) return false;
  if (!c.contains("exp") || !c["exp"].is_number_integer() || c["exp"].get<int64_t>() <= kNow) return false;
  return !(c.contains("nbf") && c["nbf"].is_number_integer() && c["nbf"].get<int64_t>() > kNow + 60);
}

void checkVerified(const berth::Result<json>& claims) {
  if (!claims) {
    FUZZ_CHECK(claims.error().code == berth::ErrorCode::Unauthorized);
    return;
  }
  FUZZ_CHECK(claims->is_object());
  FUZZ_CHECK(claims->at("exp").is_number_integer() && claims->at("exp").get<int64_t>() > kNow);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  using namespace berth::auth;

  // 1. As a token from the wire.
  checkVerified(verifyJwt(input, kKey, kNow));

  // 2. As "<header json>\n<claims json>", or claims alone under the usual header.
  auto nl = input.find('\n');
  const std::string header = nl == std::string::npos ? R"({"alg":"HS256","typ":"JWT"})" : input.substr(0, nl);
  const std::string claims = nl == std::string::npos ? input : input.substr(nl + 1);
  const std::string signing_input = base64UrlEncode(header) + "." + base64UrlEncode(claims);
  const std::string token = signing_input + "." + base64UrlEncode(hmac(signing_input));
  auto verified = verifyJwt(token, kKey, kNow);
  checkVerified(verified);
  FUZZ_CHECK(verified.has_value() == shouldAccept(token, header, claims));
  if (verified) FUZZ_CHECK(*verified == json::parse(claims));
  std::string forged = signing_input + "." + base64UrlEncode(std::string(32, '\0'));
  FUZZ_CHECK(!verifyJwt(forged, kKey, kNow));
  FUZZ_CHECK(!verifyJwt(token, "another key of the same length!!", kNow));

  // signJwt signs what it is given; its claims always verify back unchanged.
  auto j = json::parse(claims, nullptr, false);
  if (!j.is_discarded() && j.is_object() && claims.size() < 4096) {  // dump() recurses per nesting level
    std::string signed_token = signJwt(j, kKey);
    auto back = verifyJwt(signed_token, kKey, kNow);
    FUZZ_CHECK(back.has_value() == shouldAccept(signed_token, R"({"alg":"HS256"})", j.dump()));
    if (back) FUZZ_CHECK(*back == j);
  }

  // 3. The codecs: decoding what was encoded gives the bytes back.
  std::string out;
  FUZZ_CHECK(base64UrlDecode(base64UrlEncode(input), out) && out == input);
  FUZZ_CHECK(base64Decode(base64Encode(input), out) && out == input);
  (void)base64UrlDecode(input, out);
  (void)base64Decode(input, out);
  return 0;
}
