// The YAML config loader (berth::config::loadFromString). Its contract: a
// valid Config, or std::runtime_error with a message (YAML::Exception is one).
// Any other exception escaping, a crash inside, or an invalid Config returned
// is a finding.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <yaml-cpp/exceptions.h>

#include "berth/config.h"
#include "berth/core/reference.h"
#include "config/loader.h"
#include "fuzz_check.h"


extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::optional<berth::config::Config> c;
  try {
    // An empty environment: no BERTH_ override or ${VAR} of the machine leaks in.
    c = berth::config::loadDocument(text, "fuzz.yml", {});
  } catch (const std::runtime_error& e) {
    FUZZ_CHECK(std::string(e.what()).starts_with("fuzz.yml") || dynamic_cast<const YAML::Exception*>(&e));
    return 0;
  }
  for (const auto& r : c->repositories) FUZZ_CHECK(berth::repoKeyProblem(r.key).empty());
  FUZZ_CHECK(!c->storage.root.empty() && c->server.max_connections >= 1);
  FUZZ_CHECK(c->server.tls.cert.empty() == c->server.tls.key.empty());
  try {
    (void)berth::config::parseListen(c->server.listen);  // validated, so it must not throw
  } catch (...) {
    FUZZ_CHECK(!"server.listen passed validation but does not parse");
  }
  return 0;
}
