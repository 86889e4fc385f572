#include "repo/remote/challenge.h"

#include <cctype>

namespace berth::repo::remote {
namespace {

bool isTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void skipSpace(std::string_view s, std::size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

std::string readToken(std::string_view s, std::size_t& i) {
  std::size_t start = i;
  while (i < s.size() && isTokenChar(s[i])) ++i;
  return std::string(s.substr(start, i - start));
}

}  // namespace

std::optional<Challenge> parseChallenge(std::string_view s) {
  std::size_t i = 0;
  skipSpace(s, i);
  Challenge c;
  c.scheme = lower(readToken(s, i));
  if (c.scheme.empty()) return std::nullopt;
  while (i < s.size()) {
    skipSpace(s, i);
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    std::size_t before = i;
    std::string name = lower(readToken(s, i));
    skipSpace(s, i);
    if (name.empty() || i >= s.size() || s[i] != '=') {
      // A second challenge ("Bearer ..., Basic realm=...") or junk: stop at the first one.
      if (name.empty() && i == before) break;
      break;
    }
    ++i;
    skipSpace(s, i);
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char ch = s[i++];
        if (ch == '\\' && i < s.size()) {
          value += s[i++];
        } else if (ch == '"') {
          closed = true;
          break;
        } else {
          value += ch;
        }
      }
      if (!closed) return std::nullopt;
    } else {
      value = readToken(s, i);
    }
    c.params.emplace(std::move(name), std::move(value));
  }
  return c;
}

}  // namespace berth::repo::remote
