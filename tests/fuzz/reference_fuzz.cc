// The name, tag, repository-key and digest grammar (include/berth/core/
// reference.h, digest.h), checked against the spec's regular expressions.
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>

#include "berth/core/digest.h"
#include "berth/core/reference.h"
#include "fuzz_check.h"

namespace {

// The distribution spec's grammar, written as it is there. std::regex recurses
// per character, so it only sees inputs a little longer than any valid value.
const std::regex kName("[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*");
const std::regex kTag("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
const std::regex kRepoKey("[a-z0-9][a-z0-9.-]{0,63}");
const std::regex kDigest("[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+");
const std::regex kSha256("sha256:[a-f0-9]{64}");
constexpr std::size_t kRegexMaxInput = 300;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool small = text.size() <= kRegexMaxInput;

  const bool name_ok = berth::isValidImageName(text);
  if (name_ok) FUZZ_CHECK(text.size() <= berth::kMaxNameLength);
  if (small) FUZZ_CHECK(name_ok == (text.size() <= berth::kMaxNameLength && std::regex_match(text, kName)));

  const bool tag_ok = berth::isValidTag(text);
  if (tag_ok) FUZZ_CHECK(text.size() <= 128);
  if (small) FUZZ_CHECK(tag_ok == std::regex_match(text, kTag));

  const bool key_ok = berth::repoKeyProblem(text).empty();
  if (key_ok) FUZZ_CHECK(text.size() <= 64);
  if (small) FUZZ_CHECK(key_ok == std::regex_match(text, kRepoKey));

  const bool looks = berth::looksLikeDigest(text);
  if (small) FUZZ_CHECK(looks == std::regex_match(text, kDigest));
  auto digest = berth::Digest::parse(text);
  if (digest) {
    FUZZ_CHECK(looks && digest->str() == text && !digest->empty());
    if (small) FUZZ_CHECK(std::regex_match(text, kSha256));
  } else {
    FUZZ_CHECK(digest.error().code == berth::ErrorCode::DigestInvalid);
    if (small) FUZZ_CHECK(!std::regex_match(text, kSha256));
  }

  auto ref = berth::parseReference(text);
  if (ref) {
    FUZZ_CHECK(ref->str() == text);
    FUZZ_CHECK(ref->isDigest() ? digest.has_value() : tag_ok);
  } else {
    FUZZ_CHECK(!tag_ok && !digest);
  }
  return 0;
}
