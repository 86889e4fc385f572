// The environment's part in a configuration (docs/configuration.md,
// "Environment"):
// - `${NAME}` in any value of the file is replaced by the variable NAME;
// - BERTH_<KEY PATH> overrides the key, for every key the parser accepts
//   (learnt from the parser, see schema.h): BERTH_SERVER_LISTEN,
//   BERTH_REPOSITORIES_<REPO KEY>_<FIELD> for a repository of the file.
// Problems are reported to the current ProblemCollector, naming the
// variable and never its value.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>

#include "config/schema.h"

namespace berth::config {

using Environment = std::map<std::string, std::string>;
Environment processEnvironment();

// "docker-local" -> "DOCKER_LOCAL": upper case, every other character '_'.
std::string upperSnake(const std::string& name);

// Replaces every ${NAME} in the document's scalar values (not its keys) by
// the variable's value; `$${` stands for a literal `${`. An unset variable or
// a malformed reference is a problem at that value's place. Returns the
// names referenced.
std::set<std::string> expandReferences(YAML::Node& doc, const Environment& env, const std::string& origin);

// Applies each BERTH_ variable to the document, before it is parsed: the
// value of a string, number or boolean key is taken as it is (no YAML, no
// ${} expansion); a list or mapping is parsed as YAML ("[a, b]"). An empty
// variable counts as unset. A variable whose name starts with BERTH_ and a
// top-level key (BERTH_SERVER_...) but names no key is a problem, as is one
// that names two. Returns key path ("repositories[1].port") -> variable.
std::map<std::string, std::string> applyOverrides(YAML::Node& doc, const Environment& env,
                                                  const std::set<std::string>& referenced,
                                                  const DocumentParser& parse);

}  // namespace berth::config
