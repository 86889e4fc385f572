#include "config/loader.h"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "config/problems.h"

namespace berth::config {
namespace {

// The key path a message starts with: "repositories[1].url must ..." ->
// "repositories[1].url". Every message names its key first, so that this
// finds where the problem is.
KeyPath leadingPath(const std::string& message) {
  KeyPath out;
  std::size_t i = message.starts_with("unknown key ") ? 12 : 0;
  auto isKeyChar = [](char c) { return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'; };
  while (i < message.size()) {
    if (message[i] == '[') {
      auto close = message.find(']', i);
      if (close == std::string::npos || close == i + 1) break;
      std::string digits = message.substr(i + 1, close - i - 1);
      if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos || out.empty()) break;
      out.push_back({"", std::stol(digits)});
      i = close + 1;
      continue;
    }
    if (!out.empty()) {
      if (message[i] != '.' || i + 1 >= message.size() || !isKeyChar(message[i + 1])) break;
      ++i;
    }
    std::size_t end = i;
    while (end < message.size() && isKeyChar(message[end])) ++end;
    if (end == i) break;
    out.push_back({message.substr(i, end - i)});
    i = end;
  }
  return out;
}

// Places a problem that has no place yet: at the value its message names,
// or the deepest of its sections the file has; or at the environment
// variable that set it.
void place(ConfigProblem& p, const YAML::Node& doc, const std::map<std::string, std::string>& overridden) {
  if (!p.variable.empty()) return;
  const KeyPath path = leadingPath(p.message);
  // A value an override set is that variable's problem, whatever line and
  // column the YAML parsed from it may carry.
  for (KeyPath prefix; const auto& step : path) {
    prefix.push_back(step);
    if (auto it = overridden.find(dotted(prefix)); it != overridden.end()) {
      p.variable = it->second;
      p.line = p.column = 0;
      return;
    }
  }
  if (p.line > 0) return;
  YAML::Node cur = doc;
  YAML::Mark mark = YAML::Mark::null_mark();
  KeyPath walked;
  bool created = false;  // the deepest node reached was made by an override, not read from the file
  for (const auto& step : path) {
    walked.push_back(step);
    YAML::Node next;
    if (step.index >= 0 && cur.IsSequence() && static_cast<std::size_t>(step.index) < cur.size())
      next = cur[static_cast<std::size_t>(step.index)];
    else if (step.index < 0 && cur.IsMap() && cur[step.key])
      next = cur[step.key];
    else {
      walked.pop_back();
      break;
    }
    cur.reset(next);
    created = cur.Mark().is_null();
    if (!created) mark = cur.Mark();
  }
  if (created) {  // a section an override added: the problem is that variable's
    const std::string under = dotted(walked);
    for (const auto& [key, variable] : overridden)
      if (key.starts_with(under + ".") || key.starts_with(under + "[")) {
        p.variable = variable;
        return;
      }
  }
  if (!mark.is_null()) {
    p.line = mark.line + 1;
    p.column = mark.column + 1;
  }
}

[[noreturn]] void fail(const std::string& origin, ProblemCollector& problems) {
  throw ConfigError(origin, std::move(problems.problems()));
}

}  // namespace

Config loadDocument(const std::string& text, const std::string& origin, const Environment& env) {
  ProblemCollector problems;
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    problems.add("invalid YAML: " + e.msg, e.mark);
    fail(origin, problems);
  }
  if (!doc || doc.IsNull()) doc = YAML::Node(YAML::NodeType::Map);  // an empty file: all defaults
  if (!doc.IsMap()) {
    problems.add("the document must be a mapping of sections (server, storage, ...)", doc.Mark());
    fail(origin, problems);
  }
  const auto referenced = expandReferences(doc, env, origin);
  const auto parse = [&](const YAML::Node& d) { parseDocument(d, origin); };
  const auto overridden = applyOverrides(doc, env, referenced, parse);
  Config c;
  problems.guard([&] { c = parseDocument(doc, origin); });
  problems.guard([&] { validateConfig(c, origin); });
  auto& found = problems.problems();
  for (auto& p : found) place(p, doc, overridden);
  // In the order of the file; those of the environment after.
  std::stable_sort(found.begin(), found.end(), [](const ConfigProblem& a, const ConfigProblem& b) {
    if ((a.line > 0) != (b.line > 0)) return a.line > 0;
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  if (!found.empty()) fail(origin, problems);
  return c;
}

std::set<std::string> acceptedKeyPaths() {
  YAML::Node doc = YAML::Load(std::string(embeddedDefaultYaml()));
  return acceptedKeys(doc, [](const YAML::Node& d) { parseDocument(d, "probe"); });
}

}  // namespace berth::config
