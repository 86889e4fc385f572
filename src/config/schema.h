// The keys the parser accepts, learnt from the parser itself: while a
// SchemaRecorder is installed on the thread, checkKnownKeys() records each
// mapping's accepted keys and read() each value's kind. Nothing else lists
// the keys, so a key added to the parser gets its environment override and
// its place in the documentation check without more code.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace berth::config {

class SchemaRecorder {
 public:
  SchemaRecorder();
  ~SchemaRecorder();
  SchemaRecorder(const SchemaRecorder&) = delete;
  SchemaRecorder& operator=(const SchemaRecorder&) = delete;

  static SchemaRecorder* current();

  // `path` is dotted with list indices: "", "server.tls", "repositories[1]".
  void keys(const std::string& path, const std::set<std::string>& known);
  void value(const std::string& path, bool scalar);

  const std::set<std::string>* keysOf(const std::string& path) const;
  // True: a string, number or boolean; false: a list or mapping; nullopt: not read.
  std::optional<bool> isScalar(const std::string& path) const;
  const std::map<std::string, std::set<std::string>>& allKeys() const { return keys_; }

 private:
  SchemaRecorder* previous_;
  std::map<std::string, std::set<std::string>> keys_;
  std::map<std::string, bool> scalar_;
};

// Reads a whole document (problems are the caller's to collect or drop).
using DocumentParser = std::function<void(const YAML::Node&)>;

// One step of a key path: a mapping key, or (index >= 0) a list entry.
struct KeyStep {
  std::string key;
  long index = -1;
};
using KeyPath = std::vector<KeyStep>;
std::string dotted(const KeyPath& path);

// The node at `path`, mappings created on the way (a null node becomes
// one); an invalid node when a step meets something else.
YAML::Node makePath(YAML::Node doc, const KeyPath& path);

// Every key path the parser accepts, list indices as "[]" (e.g.
// "repositories[].url"): `doc` is read, then sections and lists it lacks are
// filled in with empty ones and read again until nothing new turns up.
std::set<std::string> acceptedKeys(const YAML::Node& doc, const DocumentParser& parse);

}  // namespace berth::config
