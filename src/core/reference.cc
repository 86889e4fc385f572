#include "berth/core/reference.h"

namespace berth {
namespace {
bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool isValidComponent(std::string_view c) {
  if (c.empty() || !isLowerAlnum(c.front()) || !isLowerAlnum(c.back())) return false;
  std::size_t i = 0;
  while (i < c.size()) {
    if (isLowerAlnum(c[i])) { ++i; continue; }
    // a separator run: ".", "_", "__" or "-+", followed by alnum
    std::size_t start = i;
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (i == start || i >= c.size() || !isLowerAlnum(c[i])) return false;
  }
  return true;
}
}  // namespace

bool isValidImageName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  std::size_t start = 0;
  while (true) {
    auto slash = name.find('/', start);
    auto comp = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!isValidComponent(comp)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool isValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; };
  if (!word(tag[0])) return false;
  for (char c : tag.substr(1))
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

std::string repoKeyProblem(std::string_view key) {
  if (key.empty() || key.size() > 64) return "repository key must be 1-64 characters";
  if (key.find('_') != std::string_view::npos)
    return "repository key must not contain '_' (the Docker client cannot address such a repository)";
  if (!isLowerAlnum(key[0])) return "repository key must start with a lowercase letter or digit";
  for (char c : key)
    if (!isLowerAlnum(c) && c != '.' && c != '-') return "repository key may contain only [a-z0-9.-]";
  return {};
}

Result<Reference> parseReference(std::string_view text) {
  Reference ref;
  if (text.find(':') != std::string_view::npos) {
    auto d = Digest::parse(text);
    if (!d) return tl::unexpected(d.error());
    ref.digest = std::move(*d);
    return ref;
  }
  if (!isValidTag(text)) return fail(ErrorCode::TagInvalid, "invalid tag", std::string(text.substr(0, 200)));
  ref.tag = std::string(text);
  return ref;
}

}  // namespace berth
