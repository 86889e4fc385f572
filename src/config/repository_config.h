// Reads the entries of `repositories`: local and remote ones (virtual is
// refused until it exists), the remote's upstream settings and the `port`
// of a repository's own listener.
#pragma once

#include "berth/config.h"
#include "config/yaml_util.h"

namespace berth::config {

// One entry, `where` being "repositories[<i>]". Checks what can be checked
// alone: keys, types, the URL, that the CA file reads. Problems go to the
// current ProblemCollector, and then the entry's key and type stand in for
// it; with no collector, the first throws, naming the key.
Repository readRepository(const YAML::Node& node, const std::string& origin, const std::string& where);

// Checks the entries against each other and the server: unique keys, and
// ports that differ from server.listen's and from one another.
void validateRepositories(const Config& c, const std::string& origin);

}  // namespace berth::config
