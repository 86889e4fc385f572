// Reads the entries of `repositories`: local and remote ones (virtual is
// refused until it exists), the remote's upstream settings and the `port`
// of a repository's own listener.
#pragma once

#include "berth/config.h"
#include "config/yaml_util.h"

namespace berth::config {

// One entry, `where` being "repositories[<i>]". Checks what can be checked
// alone: keys, types, the URL, ${ENV_VAR} references in the credentials,
// that the CA file reads. Throws std::runtime_error naming the key.
Repository readRepository(const YAML::Node& node, const std::string& origin, const std::string& where);

// Checks the entries against each other and the server: unique keys, and
// ports that differ from server.listen's and from one another.
void validateRepositories(const Config& c, const std::string& origin);

// Expands each ${NAME} in `value` from the environment. An unset variable
// or a malformed reference throws, naming `key` and the variable, never the
// value.
std::string expandEnvironment(const std::string& value, const std::string& origin, const std::string& key);

}  // namespace berth::config
