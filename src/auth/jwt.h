// JSON Web Tokens, HS256 only (HMAC-SHA-256 with a server key). Tokens with
// any other "alg" -- "none" above all -- are refused before any claim is read.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "berth/core/error.h"

namespace berth::auth {

std::string base64UrlEncode(const std::string& bytes);
bool base64UrlDecode(const std::string& text, std::string& out);
std::string base64Encode(const std::string& bytes);
bool base64Decode(const std::string& text, std::string& out);

std::string signJwt(const nlohmann::json& claims, const std::string& key);
// Checks structure, alg, signature (constant time), exp and nbf against `now`.
// UNAUTHORIZED with a reason otherwise.
Result<nlohmann::json> verifyJwt(const std::string& token, const std::string& key, int64_t now);

}  // namespace berth::auth
