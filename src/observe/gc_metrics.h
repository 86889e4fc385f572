// Garbage collection's metrics (berth_gc_*), rendered with the others by
// Metrics::render(). A header of their own so that metrics.h, which half the
// code includes, does not change for them.
#pragma once

#include <cstdint>

namespace berth::observe {

// One garbage collection run that could change something (dry runs are not
// recorded): whether it ended well, what it freed (a failed run may have freed
// some before it stopped), how long it took, and when it ended (Unix time).
void recordGcRun(bool ok, uint64_t blobs_freed, uint64_t bytes_freed, double seconds, int64_t ended_unix);

}  // namespace berth::observe
