#include "repo/remote/foreign_layers.h"

namespace berth::repo::remote {

bool antMatch(std::string_view p, std::string_view t) {
  // Iterative glob with one backtrack point per star kind; `**` backtracks
  // over anything, `*` only within a path segment.
  std::size_t pi = 0, ti = 0;
  std::size_t star_p = std::string_view::npos, star_t = 0;
  bool star_any = false;
  while (ti < t.size()) {
    if (pi + 1 < p.size() && p[pi] == '*' && p[pi + 1] == '*') {
      star_p = pi += 2;
      star_t = ti;
      star_any = true;
      continue;
    }
    if (pi < p.size() && p[pi] == '*') {
      star_p = ++pi;
      star_t = ti;
      star_any = false;
      continue;
    }
    if (pi < p.size() && (p[pi] == t[ti] || (p[pi] == '?' && t[ti] != '/'))) {
      ++pi;
      ++ti;
      continue;
    }
    if (star_p != std::string_view::npos && (star_any || t[star_t] != '/')) {
      pi = star_p;
      ti = ++star_t;
      continue;
    }
    return false;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::string firstAllowedUrl(const std::vector<std::string>& urls, const std::vector<std::string>& include) {
  for (const auto& u : urls)
    for (const auto& pat : include)
      if (antMatch(pat, u)) return u;
  return {};
}

}  // namespace berth::repo::remote
