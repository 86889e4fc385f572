#include "auth/jwt.h"

#include "core/json_input.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace berth::auth {
namespace {

tl::unexpected<Error> bad(const std::string& why) { return fail(ErrorCode::Unauthorized, "invalid token", why); }

std::string hmacSha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

std::string signJwt(const nlohmann::json& claims, const std::string& key) {
  std::string head = base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  std::string body = base64UrlEncode(claims.dump());
  std::string input = head + "." + body;
  return input + "." + base64UrlEncode(hmacSha256(key, input));
}

Result<nlohmann::json> verifyJwt(const std::string& token, const std::string& key, int64_t now) {
  if (token.size() > 8192) return bad("token too long");
  auto d1 = token.find('.');
  auto d2 = d1 == std::string::npos ? std::string::npos : token.find('.', d1 + 1);
  if (d2 == std::string::npos || token.find('.', d2 + 1) != std::string::npos) return bad("malformed token");
  std::string header_json, claims_json, sig;
  if (!base64UrlDecode(token.substr(0, d1), header_json) || !base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1), claims_json) ||
      !base64UrlDecode(token.substr(d2 + 1), sig))
    return bad("malformed token encoding");
  auto header = json_input::parse(header_json, ErrorCode::Unauthorized);
  if (!header || !header->is_object() || !header->contains("alg") || (*header)["alg"] != "HS256")
    return bad("unsupported token algorithm");
  std::string expected = hmacSha256(key, token.substr(0, d2));
  if (sig.size() != expected.size() || CRYPTO_memcmp(sig.data(), expected.data(), sig.size()) != 0)
    return bad("bad token signature");
  auto parsed = json_input::parse(claims_json, ErrorCode::Unauthorized);
  if (!parsed || !parsed->is_object()) return bad("malformed token claims");
  nlohmann::json& claims = *parsed;
  if (!claims.contains("exp") || !claims["exp"].is_number_integer() || claims["exp"].get<int64_t>() <= now)
    return bad("token expired");
  if (claims.contains("nbf") && claims["nbf"].is_number_integer() && claims["nbf"].get<int64_t>() > now + 60)
    return bad("token not yet valid");
  return std::move(claims);
}

}  // namespace berth::auth
