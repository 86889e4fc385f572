#include "berth/auth/model.h"

namespace berth::auth {

std::optional<Action> parseAction(const std::string& n) {
  if (n == "read") return Action::Read;
  if (n == "annotate") return Action::Annotate;
  if (n == "deploy") return Action::Deploy;
  if (n == "delete") return Action::Delete;
  if (n == "manage") return Action::Manage;
  return std::nullopt;
}

std::string actionName(Action a) {
  switch (a) {
    case Action::Read: return "read";
    case Action::Annotate: return "annotate";
    case Action::Deploy: return "deploy";
    case Action::Delete: return "delete";
    case Action::Manage: return "manage";
  }
  return "read";
}

namespace {
int rank(Action a) {
  switch (a) {
    case Action::Read: return 0;
    case Action::Annotate: return 1;
    case Action::Deploy: return 2;
    case Action::Delete: return 3;
    case Action::Manage: return 4;
  }
  return 0;
}

bool matchAt(const std::string& p, std::size_t pi, const std::string& s, std::size_t si) {
  while (pi < p.size()) {
    if (p[pi] == '*') {
      bool deep = pi + 1 < p.size() && p[pi + 1] == '*';
      std::size_t next = pi + (deep ? 2 : 1);
      // "**/" also matches zero components.
      if (deep && next < p.size() && p[next] == '/' && matchAt(p, next + 1, s, si)) return true;
      for (std::size_t k = si; k <= s.size(); ++k) {
        if (matchAt(p, next, s, k)) return true;
        if (k < s.size() && !deep && s[k] == '/') break;
      }
      return false;
    }
    if (si >= s.size()) return false;
    if (p[pi] == '?') {
      if (s[si] == '/') return false;
    } else if (p[pi] != s[si]) {
      return false;
    }
    ++pi;
    ++si;
  }
  return si == s.size();
}
}  // namespace

bool grants(const std::set<Action>& held, Action wanted) {
  for (Action a : held)
    if (rank(a) >= rank(wanted)) return true;
  return false;
}

bool matchPattern(const std::string& pattern, const std::string& name) { return matchAt(pattern, 0, name, 0); }

}  // namespace berth::auth
