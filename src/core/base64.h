// Base64 (RFC 4648): standard alphabet with padding, and the URL-safe one
// without (JWTs). Decoding refuses malformed input.
#pragma once

#include <string>

namespace berth {

std::string base64Encode(const std::string& bytes);
bool base64Decode(const std::string& text, std::string& out);
std::string base64UrlEncode(const std::string& bytes);
bool base64UrlDecode(const std::string& text, std::string& out);

}  // namespace berth
