// check-config's look at the machine: can each repository's `port:` be
// bound on server.listen's host? Loading a config checks that the ports
// differ from one another; only binding tells whether another process
// (or a running berth with this config) is listening there already.
#pragma once

#include <string>
#include <vector>

#include "berth/config.h"

namespace berth::server {

// One message per repository port that cannot be bound, naming the key and
// the address; empty when all can. The sockets are closed again at once.
std::vector<std::string> unavailableRepositoryPorts(const config::Config& c);

}  // namespace berth::server
