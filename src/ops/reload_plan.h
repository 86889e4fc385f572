// What a configuration reload changes (docs/operations.md, "Reloading"):
// which repositories are new, changed or gone, and which changed keys only a
// restart applies. Pure functions over two validated configs; App::reload
// builds and swaps from the plan (docs/design.md, "Runtime-swappable
// repositories"), for a file reload and the repository API alike.
#pragma once

#include <string>
#include <vector>

#include "berth/config.h"
#include "berth/config_error.h"

namespace berth::ops {

struct RepositoryPlan {
  std::vector<std::string> added, changed, removed;  // keys, in the new (removed: old) config's order
  std::vector<std::string> kept;                     // settings unchanged: their objects stay
};

// Whether a repository's settings differ in anything that counts (its line
// in the file does not). Every field of config::Repository is compared: a
// field added there must be added here (reload_plan_test checks the known ones).
bool sameRepositorySettings(const config::Repository& a, const config::Repository& b);

RepositoryPlan planRepositories(const std::vector<config::Repository>& before,
                                const std::vector<config::Repository>& after);

// The keys that changed between `before` and `after` and that a reload does
// not apply (listen address, TLS, storage, workers, logging, a repository's
// port, turning security on or off...), as dotted config paths.
std::vector<std::string> keysNeedingRestart(const config::Config& before, const config::Config& after);

// What one reload did, for the log, SIGHUP and POST /api/system/reload.
struct ReloadReport {
  bool applied = false;
  // Why it was refused: the config's problems (line and column as
  // check-config gives them), or what could not be set up.
  std::vector<config::ConfigProblem> problems;
  std::string origin;  // the config file, for the log only (clients get lines and columns)
  RepositoryPlan repositories;
  std::vector<std::string> needs_restart;
};

}  // namespace berth::ops
