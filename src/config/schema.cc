#include "config/schema.h"

#include "config/problems.h"

namespace berth::config {
namespace {
thread_local SchemaRecorder* current_recorder = nullptr;

std::string child(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

// "repositories[2].url" -> "repositories[].url"
std::string withoutIndices(const std::string& path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    out += path[i];
    if (path[i] == '[') {
      while (i + 1 < path.size() && path[i + 1] != ']') ++i;
    }
  }
  return out;
}

// Parses a path "a.b[1].c" back into steps.
KeyPath parsePath(const std::string& path) {
  KeyPath out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') ++i;
    if (path[i] == '[') {
      auto close = path.find(']', i);
      out.push_back({"", std::stol(path.substr(i + 1, close - i - 1))});
      i = close + 1;
      continue;
    }
    auto end = path.find_first_of(".[", i);
    if (end == std::string::npos) end = path.size();
    out.push_back({path.substr(i, end - i)});
    i = end;
  }
  return out;
}

}  // namespace

SchemaRecorder::SchemaRecorder() : previous_(current_recorder) { current_recorder = this; }
SchemaRecorder::~SchemaRecorder() { current_recorder = previous_; }
SchemaRecorder* SchemaRecorder::current() { return current_recorder; }

void SchemaRecorder::keys(const std::string& path, const std::set<std::string>& known) {
  keys_[path].insert(known.begin(), known.end());
}
void SchemaRecorder::value(const std::string& path, bool scalar) { scalar_[path] = scalar; }

const std::set<std::string>* SchemaRecorder::keysOf(const std::string& path) const {
  auto it = keys_.find(path);
  return it == keys_.end() ? nullptr : &it->second;
}

std::optional<bool> SchemaRecorder::isScalar(const std::string& path) const {
  auto it = scalar_.find(path);
  if (it == scalar_.end()) return std::nullopt;
  return it->second;
}

std::string dotted(const KeyPath& path) {
  std::string out;
  for (const auto& s : path) out = s.index >= 0 ? out + "[" + std::to_string(s.index) + "]" : child(out, s.key);
  return out;
}

YAML::Node makePath(YAML::Node doc, const KeyPath& path) {
  YAML::Node cur = doc;
  for (const auto& s : path) {
    if (s.index >= 0) {
      if (!cur.IsSequence() || static_cast<std::size_t>(s.index) >= cur.size()) return YAML::Node(YAML::NodeType::Undefined);
      cur.reset(cur[static_cast<std::size_t>(s.index)]);
      continue;
    }
    if (cur.IsNull()) cur = YAML::Node(YAML::NodeType::Map);  // assigns in place: the document's node
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node next = cur[s.key];
    if (!next.IsDefined()) {
      cur[s.key] = YAML::Node(YAML::NodeType::Null);
      next.reset(cur[s.key]);
    }
    cur.reset(next);
  }
  return cur;
}

std::set<std::string> acceptedKeys(const YAML::Node& doc, const DocumentParser& parse) {
  YAML::Node probe = YAML::Clone(doc);
  std::set<std::string> tried;
  std::set<std::string> out;
  for (int round = 0; round < 16; ++round) {
    SchemaRecorder schema;
    {
      ProblemCollector ignored;
      try {
        parse(probe);
      } catch (const std::exception&) {
      }
    }
    bool grew = false;
    for (const auto& [path, keys] : schema.allKeys()) {
      for (const auto& k : keys) {
        const std::string p = child(path, k);
        out.insert(withoutIndices(p));
        if (schema.keysOf(p) || schema.keysOf(p + "[0]") || schema.isScalar(p).has_value()) continue;
        // Not read as a value nor as a section: try an empty mapping, then a
        // list of one empty mapping, and see whether the parser reads into it.
        YAML::Node node = makePath(probe, parsePath(p));
        if (!node.IsDefined() || !(node.IsNull() || (node.IsMap() && node.size() == 0) ||
                                   (node.IsSequence() && node.size() == 0)))
          continue;
        if (tried.insert(p + "{}").second) {
          node = YAML::Node(YAML::NodeType::Map);
          grew = true;
        } else if (tried.insert(p + "[]").second) {
          YAML::Node list(YAML::NodeType::Sequence);
          list.push_back(YAML::Node(YAML::NodeType::Map));
          node = list;
          grew = true;
        }
      }
    }
    if (!grew) break;
  }
  return out;
}

}  // namespace berth::config
