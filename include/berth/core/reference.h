// The spec's name grammar, checked before any name reaches storage:
//   name      [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//   tag       [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
//   repo key  [a-z0-9][a-z0-9.-]{0,63} (Berth's own rule, no '_': Docker cannot talk to it)
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "berth/core/digest.h"
#include "berth/core/error.h"

namespace berth {

inline constexpr std::size_t kMaxNameLength = 255;

bool isValidImageName(std::string_view name);
bool isValidTag(std::string_view tag);
// Empty string when valid, else the reason (for config errors).
std::string repoKeyProblem(std::string_view key);

// A manifest reference in a URL: a tag or a digest.
struct Reference {
  std::string tag;  // empty when by digest
  Digest digest;    // empty when by tag
  bool isDigest() const { return tag.empty(); }
  std::string str() const { return isDigest() ? digest.str() : tag; }
};

// TAG_INVALID / DIGEST_INVALID on a malformed reference.
Result<Reference> parseReference(std::string_view text);

}  // namespace berth
