// The `berth import-registry2` subcommand: arguments, stores, progress line
// and the final report (docs/operations.md, "Migrating from registry:2").
#pragma once

#include <string>
#include <vector>

namespace berth::ops {

// args: what follows "import-registry2" on the command line. config_path: a
// --config seen before it ("" = $BERTH_CONFIG or the embedded default, as
// main resolved it). Returns the exit code: 0 all imported (or present),
// 3 finished but something was skipped, 1 could not run, 2 bad arguments.
int runImportRegistry2(const std::vector<std::string>& args, std::string config_path);

}  // namespace berth::ops
