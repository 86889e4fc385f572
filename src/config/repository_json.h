// A repository's configuration as JSON, for the repository management API
// (/api/repositories/<key>, docs/api.md): Artifactory's field names
// ("rclass", "maxUniqueTags", "defaultDeploymentRepo", ...) or the config
// file's own keys, turned into one entry of the file's `repositories` list
// (as a JSON object with the file's keys, the "entry"), which the file's
// parser then reads and checks like any other.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "berth/config.h"

namespace berth::config {

struct ApiFieldsApplied {
  std::vector<std::string> ignored;   // fields Berth has no use for (Artifactory's other settings)
  std::vector<std::string> problems;  // fields that cannot be taken as given
  // The entry's key path ("max_unique_tags", "foreign_layers.enabled") ->
  // the field the client named it by, so that a problem the parser finds
  // can be told in the client's terms.
  std::map<std::string, std::string> named_as;
};

// Sets the fields of `body` (a JSON object) in `entry` (a JSON object with
// the file's keys): a field given replaces the entry's, `null` resets it to
// its default, a field not given stays. "packageType" must be docker and is
// not kept.
ApiFieldsApplied applyApiFields(const nlohmann::json& body, nlohmann::json& entry);

// The entry as a YAML node, for readRepository().
YAML::Node entryNode(const nlohmann::json& entry);

// The JSON an API GET answers: Artifactory's field names, plus Berth's own
// settings under the same style. Passwords are never shown; the upstream's
// user name only when `with_username`.
nlohmann::json repositoryJson(const Repository& r, bool with_username);

// "local", "remote", "virtual".
const char* repoTypeName(RepoType t);

}  // namespace berth::config
