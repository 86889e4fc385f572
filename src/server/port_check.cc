#include "server/port_check.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace berth::server {
namespace {

// "" when host:port can be bound, else why not. SO_REUSEADDR as the server
// sets it, so that a port left in TIME_WAIT is not reported as taken.
std::string bindProblem(const std::string& host, unsigned port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0 || !found)
    return std::string("cannot resolve the host: ") + ::gai_strerror(rc);
  std::string problem;
  int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  int one = 1;
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    int err = errno;
    problem = std::strerror(err);
    if (err == EADDRINUSE) problem += " (something is listening there already)";
  }
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(found);
  return problem;
}

}  // namespace

std::vector<std::string> unavailableRepositoryPorts(const config::Config& c) {
  const std::string host = config::parseListen(c.server.listen).host;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < c.repositories.size(); ++i) {
    const auto& r = c.repositories[i];
    if (r.port == 0) continue;
    if (auto problem = bindProblem(host, r.port); !problem.empty())
      out.push_back("repositories[" + std::to_string(i) + "].port " + std::to_string(r.port) + " of '" + r.key +
                    "' cannot be bound on " + host + ": " + problem);
  }
  return out;
}

}  // namespace berth::server
