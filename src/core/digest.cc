#include "berth/core/digest.h"

namespace berth {
namespace {
bool isLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool isAlgChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isAlgSep(char c) { return c == '+' || c == '.' || c == '_' || c == '-'; }
bool isEncodedChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '=' ||
         c == '_' || c == '-';
}
}  // namespace

bool looksLikeDigest(std::string_view text) {
  // digest ::= algorithm ":" encoded ; algorithm ::= component (separator component)*
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= text.size()) return false;
  std::string_view alg = text.substr(0, colon), enc = text.substr(colon + 1);
  bool need_component = true;
  for (char c : alg) {
    if (isAlgChar(c)) {
      need_component = false;
    } else if (isAlgSep(c) && !need_component) {
      need_component = true;
    } else {
      return false;
    }
  }
  if (need_component) return false;
  for (char c : enc)
    if (!isEncodedChar(c)) return false;
  return true;
}

Result<Digest> Digest::parse(std::string_view text) {
  if (!looksLikeDigest(text))
    return fail(ErrorCode::DigestInvalid, "invalid digest", std::string(text.substr(0, 200)));
  if (!text.starts_with("sha256:"))
    return fail(ErrorCode::DigestInvalid, "unsupported digest algorithm, only sha256 is accepted",
                std::string(text.substr(0, 200)));
  std::string_view hex = text.substr(7);
  if (hex.size() != 64)
    return fail(ErrorCode::DigestInvalid, "sha256 digest must have 64 hex characters", std::string(text));
  for (char c : hex)
    if (!isLowerHex(c))
      return fail(ErrorCode::DigestInvalid, "sha256 digest must be lowercase hex", std::string(text));
  return fromHex(std::string(hex));
}

}  // namespace berth
