#include "config/env_overrides.h"

#include <cctype>
#include <memory>

#include "config/problems.h"

extern char** environ;

namespace berth::config {
namespace {

constexpr const char* kPrefix = "BERTH_";
// Older names kept working: BERTH_LISTEN is server.listen (BERTH_STORAGE_ROOT
// and BERTH_LOG_LEVEL are already the generic names).
const std::map<std::string, std::string> kAliases{{"BERTH_LISTEN", "BERTH_SERVER_LISTEN"}};

bool validName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

std::string expandValue(const std::string& value, const Environment& env, const std::string& key,
                        const YAML::Mark& mark, const std::string& origin, std::set<std::string>& referenced) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    auto start = value.find('$', pos);
    if (start == std::string::npos) break;
    out.append(value, pos, start - pos);
    if (value.compare(start, 3, "$${") == 0) {  // the escape: a literal "${"
      out += "${";
      pos = start + 3;
      continue;
    }
    if (value.compare(start, 2, "${") != 0) {  // a '$' of anything else stays
      out += '$';
      pos = start + 1;
      continue;
    }
    auto end = value.find('}', start + 2);
    if (end == std::string::npos) {
      report(origin, key + " has a '${' without its closing '}' (write $${ for a literal ${)", mark);
      return value;
    }
    std::string name = value.substr(start + 2, end - start - 2);
    if (!validName(name)) {
      report(origin, key + " has a malformed environment reference (${NAME}: letters, digits, '_')", mark);
      return value;
    }
    referenced.insert(name);
    auto it = env.find(name);
    if (it == env.end()) {
      report(origin, key + " refers to the environment variable " + name + ", which is not set", mark);
      return value;
    }
    out += it->second;
    pos = end + 1;
  }
  out.append(value, pos);
  return out;
}

// False when a reference in the node could not be expanded (reported).
bool expandNode(YAML::Node node, const std::string& path, const Environment& env, const std::string& origin,
                std::set<std::string>& referenced) {
  if (node.IsScalar()) {
    const std::string& v = node.Scalar();
    if (v.find('$') == std::string::npos) return true;
    auto* problems = ProblemCollector::current();
    const std::size_t before = problems->problems().size();
    std::string expanded = expandValue(v, env, path, node.Mark(), origin, referenced);
    if (problems->problems().size() != before) return false;
    if (expanded != v) node = expanded;  // in place: the node keeps its line and column
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i)
      expandNode(node[i], path + "[" + std::to_string(i) + "]", env, origin, referenced);
  } else if (node.IsMap()) {
    std::vector<YAML::Node> failed;
    for (auto kv : node) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      if (!expandNode(kv.second, path.empty() ? key : path + "." + key, env, origin, referenced))
        failed.push_back(kv.first);
    }
    // The key falls back to its default, so that the checks of its value do
    // not report the unexpanded reference a second time.
    for (const auto& key : failed) node.remove(key);
  }
  return true;
}

// What a variable name can mean, given what the parser has said so far.
struct Resolution {
  std::vector<KeyPath> keys;    // complete key paths it names
  std::vector<KeyPath> probes;  // sections absent from the document whose keys are not known yet
  std::string nearest;          // the deepest section reached, for the message when nothing matches
};

void resolveIn(const YAML::Node& node, const KeyPath& at, const std::string& rest, const SchemaRecorder& schema,
               Resolution& out);

// A list of mappings: an entry is addressed by its `key`, else its `name`.
void resolveEntries(const YAML::Node& list, const KeyPath& at, const std::string& rest, const SchemaRecorder& schema,
                    Resolution& out) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node entry = list[i];
    if (!entry.IsMap()) continue;
    YAML::Node id = entry["key"] ? entry["key"] : entry["name"];
    if (!id || !id.IsScalar()) continue;
    const std::string ID = upperSnake(id.Scalar()) + "_";
    if (!rest.starts_with(ID)) continue;
    KeyPath p = at;
    p.push_back({"", static_cast<long>(i)});
    resolveIn(entry, p, rest.substr(ID.size()), schema, out);
  }
}

void resolveIn(const YAML::Node& node, const KeyPath& at, const std::string& rest, const SchemaRecorder& schema,
               Resolution& out) {
  const auto* keys = schema.keysOf(dotted(at));
  if (!keys) return;
  if (dotted(at).size() >= out.nearest.size()) out.nearest = dotted(at);
  for (const auto& k : *keys) {
    const std::string K = upperSnake(k);
    KeyPath p = at;
    p.push_back({k});
    if (rest == K) {
      out.keys.push_back(p);
      continue;
    }
    if (!rest.starts_with(K + "_")) continue;
    const std::string tail = rest.substr(K.size() + 1);
    YAML::Node sub = node && node.IsMap() ? node[k] : YAML::Node();
    if (sub && sub.IsSequence()) {
      resolveEntries(sub, p, tail, schema, out);
    } else if (schema.keysOf(dotted(p))) {
      resolveIn(sub, p, tail, schema, out);
    } else if (!sub || sub.IsNull()) {
      out.probes.push_back(p);
    }
  }
}

std::string keyList(const SchemaRecorder& schema, const std::string& path) {
  std::string out;
  if (const auto* keys = schema.keysOf(path))
    for (const auto& k : *keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// A BERTH_ variable to apply: its name in the generic form, its value, and
// the variable actually set (an older name, perhaps).
struct Pending {
  std::string value;
  std::string variable;
};

// The BERTH_ variables to apply, by generic name.
std::map<std::string, Pending> overrideVariables(const Environment& env, const std::set<std::string>& referenced) {
  std::map<std::string, Pending> out;
  for (const auto& [name, value] : env) {
    if (!name.starts_with(kPrefix) || value.empty() || referenced.count(name)) continue;
    auto alias = kAliases.find(name);
    if (alias == kAliases.end()) {
      out[name] = {value, name};  // over an older name's entry for the same key
      continue;
    }
    auto both = env.find(alias->second);
    if (both != env.end() && !both->second.empty() && both->second != value)
      ProblemCollector::current()->add(
          "set together with " + alias->second + " and different from it; " + name + " is its older name: set one",
          YAML::Mark::null_mark(), name);
    else if (!out.count(alias->second))
      out[alias->second] = {value, name};
  }
  return out;
}

void setValue(YAML::Node& doc, const KeyPath& path, const std::string& variable, const std::string& value,
              const SchemaRecorder& schema) {
  KeyPath parent(path.begin(), path.end() - 1);
  YAML::Node at = makePath(doc, parent);
  if (!at.IsDefined() || !(at.IsMap() || at.IsNull())) {
    ProblemCollector::current()->add(dotted(parent) + " is not a mapping in the file, so " + dotted(path) +
                                         " cannot be set",
                                     YAML::Mark::null_mark(), variable);
    return;
  }
  if (at.IsNull()) at = YAML::Node(YAML::NodeType::Map);
  // A new node, not the file's one changed in place: it must not keep the
  // file's line and column, so that a problem with it names the variable.
  if (schema.isScalar(dotted(path)).value_or(false)) {
    at[path.back().key] = YAML::Node(value);  // as it is: a password with ':' or '#' stays one string
    return;
  }
  try {
    at[path.back().key] = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    ProblemCollector::current()->add(dotted(path) + " takes a list or mapping in YAML flow style ([a, b]), and this "
                                     "is not valid YAML: " + e.msg,
                                     YAML::Mark::null_mark(), variable);
  }
}

}  // namespace

Environment processEnvironment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq != std::string::npos) env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

std::string upperSnake(const std::string& name) {
  std::string out = name;
  for (auto& c : out)
    c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                                                     : '_';
  return out;
}

std::set<std::string> expandReferences(YAML::Node& doc, const Environment& env, const std::string& origin) {
  std::set<std::string> referenced;
  expandNode(doc, "", env, origin, referenced);
  return referenced;
}

std::map<std::string, std::string> applyOverrides(YAML::Node& doc, const Environment& env,
                                                  const std::set<std::string>& referenced,
                                                  const DocumentParser& parse) {
  std::map<std::string, std::string> applied;
  const auto pending = overrideVariables(env, referenced);
  if (pending.empty()) return applied;
  // Learn the keys by reading the document; where a variable goes into a
  // section the document lacks, read again with that section present.
  YAML::Node probe = YAML::Clone(doc);
  std::set<std::string> probed;
  std::map<std::string, Resolution> resolved;
  std::unique_ptr<SchemaRecorder> schema;
  for (int round = 0; round < 8; ++round) {
    schema.reset();  // one recorder at a time: each installs itself on the thread
    schema = std::make_unique<SchemaRecorder>();
    {
      ProblemCollector ignored;
      try {
        parse(probe);
      } catch (const std::exception&) {
      }
    }
    bool again = false;
    resolved.clear();
    for (const auto& [name, unused] : pending) {
      Resolution r;
      resolveIn(doc, {}, name.substr(std::string(kPrefix).size()), *schema, r);
      for (const auto& p : r.probes)
        if (probed.insert(dotted(p)).second) {
          YAML::Node section = makePath(probe, p);
          if (section.IsDefined()) section = YAML::Node(YAML::NodeType::Map);
          again = true;
        }
      resolved[name] = std::move(r);
    }
    if (!again) break;
  }
  const auto* sections = schema->keysOf("");
  for (const auto& [name, r] : resolved) {
    const std::string rest = name.substr(std::string(kPrefix).size());
    bool in_namespace = false;
    for (const auto& k : sections ? *sections : std::set<std::string>{})
      in_namespace = in_namespace || rest == upperSnake(k) || rest.starts_with(upperSnake(k) + "_");
    if (!in_namespace) continue;  // BERTH_CONFIG, or a variable of the user's own
    auto* problems = ProblemCollector::current();
    const std::string& variable = pending.at(name).variable;
    if (r.keys.empty()) {
      problems->add("names no configuration key" +
                        (r.nearest.empty() ? " (the sections: " + keyList(*schema, "") + ")"
                                           : " (the keys of " + r.nearest + ": " + keyList(*schema, r.nearest) + ")"),
                    YAML::Mark::null_mark(), variable);
    } else if (r.keys.size() > 1) {
      std::string which;
      for (const auto& p : r.keys) which += (which.empty() ? "" : " and ") + dotted(p);
      problems->add("names more than one key (" + which + "); set them in the file", YAML::Mark::null_mark(),
                    variable);
    } else {
      setValue(doc, r.keys.front(), variable, pending.at(name).value, *schema);
      applied[dotted(r.keys.front())] = variable;
    }
  }
  return applied;
}

}  // namespace berth::config
