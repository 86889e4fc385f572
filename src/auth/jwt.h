// JSON Web Tokens, HS256 only (HMAC-SHA-256 with a server key). Tokens with
// any other "alg" -- "none" above all -- are refused before any claim is read.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "berth/core/error.h"
#include "core/base64.h"

namespace berth::auth {

using berth::base64Decode;
using berth::base64Encode;
using berth::base64UrlDecode;
using berth::base64UrlEncode;

std::string signJwt(const nlohmann::json& claims, const std::string& key);
// Checks structure, alg, signature (constant time), exp and nbf against `now`.
// UNAUTHORIZED with a reason otherwise.
Result<nlohmann::json> verifyJwt(const std::string& token, const std::string& key, int64_t now);

}  // namespace berth::auth
