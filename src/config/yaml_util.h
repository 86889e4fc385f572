// Helpers for reading YAML config sections with errors that name the key.
// read() and checkKnownKeys() report a problem and go on (the loader collects
// them all); bad() stops the part being read. Both also tell a SchemaRecorder
// what they accept, which is how environment overrides know the keys.
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "config/problems.h"
#include "config/schema.h"

namespace berth::config {

[[noreturn]] inline void bad(const std::string& origin, const std::string& what) { throw ProblemError(origin, what); }

template <class T>
const char* expectedKind() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) return "a non-negative integer";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return "a list of strings";
  else return "another type";
}

template <class T>
void read(const YAML::Node& node, const char* key, T& out, const std::string& origin, const std::string& path) {
  const std::string at = path.empty() ? std::string(key) : path + "." + key;
  if (auto* schema = SchemaRecorder::current())
    schema->value(at, std::is_arithmetic_v<T> || std::is_same_v<T, std::string>);
  if (!node || !node.IsMap() || !node[key]) return;
  try {
    out = node[key].as<T>();
  } catch (const YAML::Exception&) {
    report(origin, at + " has the wrong type (expected " + expectedKind<T>() + ")", node[key].Mark());
  }
}

inline void checkKnownKeys(const YAML::Node& node, const std::set<std::string>& known, const std::string& origin,
                           const std::string& path) {
  if (auto* schema = SchemaRecorder::current()) schema->keys(path, known);
  if (!node) return;
  if (!node.IsMap()) return report(origin, (path.empty() ? "the document" : path) + " must be a mapping", node.Mark());
  for (const auto& kv : node) {
    auto k = kv.first.as<std::string>();
    if (!known.count(k)) report(origin, "unknown key " + (path.empty() ? k : path + "." + k), kv.first.Mark());
  }
}

}  // namespace berth::config
