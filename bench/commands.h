// The subcommands of berth_bench. Each returns the one JSON object the command
// prints (main adds "ok"); failures are thrown (see fail()).
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "args.h"
#include "common.h"
#include "registry_api.h"
#include "workers.h"

namespace berth_bench {

// scenarios_blobs.cc
json cmdPush(const Args& a);
json cmdPull(const Args& a);
// scenarios_requests.cc
json cmdSmallImages(const Args& a);
json cmdManifestLoad(const Args& a);
json cmdBlobHead(const Args& a);
// scenarios_crowd.cc
json cmdCrowd(const Args& a);
json cmdPushLoad(const Args& a);
// scenarios_listing.cc
json cmdSeedTags(const Args& a);
json cmdSeedRepos(const Args& a);
json cmdTagsList(const Args& a);
json cmdCatalog(const Args& a);
// scenarios_lifecycle.cc
json cmdPromote(const Args& a);
// scenarios_gc.cc
json cmdSeedRegistry2(const Args& a);
json cmdGc(const Args& a);
json cmdRunMeasured(const Args& a);
json cmdCheckStore(const Args& a);
// setup_commands.cc
json cmdLoopback(const Args& a);
json cmdFreePort(const Args& a);
json cmdWait(const Args& a);
// report.cc
json cmdReport(const Args& a);

// The manifest-GET load's image (--seed, default 77), pushed to repo:tag and read back once. With
// --push-to H:P (and --push-repo R, default repo) it is pushed there instead (the upstream of a
// pull-through cache at the target, or a member of a virtual repository on the target itself)
// and only read back from the target.
Image pushLoadImage(const Args& a, const Target& t, const std::string& repo, const std::string& tag);
// The closed-loop load of `method` on `target` (--conns, --seconds, --warmup, --max-requests).
LoadSpec manifestLoadSpec(const Args& a, const std::string& method, const std::string& target);

// POST /api/system/storage/gc in a loop on a connection of its own, from construction until stop()
// (scenarios_gc.cc): beside the small-image storm.
class GcLoop {
 public:
  explicit GcLoop(const Target& t);
  ~GcLoop();
  GcLoop(const GcLoop&) = delete;
  GcLoop& operator=(const GcLoop&) = delete;
  // Ends the loop after the run in progress: runs completed, 503s (a run already going), blobs
  // freed, each run's duration.
  json stop();

 private:
  Target target_;
  std::atomic<bool> stop_{false};
  json result_ = json::object();
  std::thread thread_;
};

// Options shared by the scenarios.
inline int serverPid(const Args& a) { return static_cast<int>(a.num("pid", 0)); }  // 0: no server probe
inline bool isOci(const Args& a) { return a.str("media", "oci") != "docker"; }
inline void checkCountAndWorkers(int count, int workers, int max_count) {
  if (count < 1 || count > max_count || workers < 1 || workers > 256) fail("bad --count/--workers");
}

}  // namespace berth_bench
