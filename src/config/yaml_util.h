// Helpers for reading YAML config sections with errors that name the key.
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>
#include <string>

namespace berth::config {

[[noreturn]] inline void bad(const std::string& origin, const std::string& what) {
  throw std::runtime_error(origin + ": " + what);
}

template <class T>
void read(const YAML::Node& node, const char* key, T& out, const std::string& origin, const std::string& path) {
  if (!node || !node.IsMap() || !node[key]) return;
  try {
    out = node[key].as<T>();
  } catch (const YAML::Exception&) {
    bad(origin, path + "." + key + " has the wrong type");
  }
}

inline void checkKnownKeys(const YAML::Node& node, const std::set<std::string>& known, const std::string& origin,
                           const std::string& path) {
  if (!node) return;
  if (!node.IsMap()) bad(origin, (path.empty() ? "the document" : path) + " must be a mapping");
  for (const auto& kv : node) {
    auto k = kv.first.as<std::string>();
    if (!known.count(k)) bad(origin, "unknown key " + (path.empty() ? k : path + "." + k));
  }
}

}  // namespace berth::config
