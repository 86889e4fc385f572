// `berth gc --config FILE [--dry-run]`: one garbage collection of the
// storage root with no server running (docs/lifecycle.md).
#pragma once

#include "berth/config.h"

namespace berth::server {

// Prints what was freed (or would be, with dry_run) and returns the exit
// code: 0 done, 1 failed (a server is using the root, a storage error).
int runGcCommand(const config::Config& cfg, bool dry_run);

}  // namespace berth::server
