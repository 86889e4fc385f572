// berth_bench: a load tool for OCI/Docker registries (Berth and registry:2).
//
// One subcommand per scenario; each prints exactly one JSON line on stdout
// (progress goes to stderr). Every target must be a loopback address, every
// loop is bounded in count and in time, and a watchdog ends the process when a
// scenario overruns --max-seconds.
//
// Threads with synchronous keep-alive connections: one connection per worker.
// Large bodies are never held in memory (see data.h).
//
// See bench/README.md for the scenarios.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <thread>

#include "commands.h"

using namespace berth_bench;

namespace {

void usage() {
  std::cerr << R"(usage: berth_bench COMMAND [--key value ...]
  push          --target H:P [--repo R] [--size 1GiB] [--mode mono|chunked|post] [--chunk 64MiB] [--seed N] [--pid P]
  pull          --target H:P [--repo R] --digest D [--size N] [--parallel 1] [--verify 1] [--pid P]
  small-images  --target H:P [--repo R] [--count 500] [--workers 16] [--layers 3] [--layer-size 4KiB] [--pid P]
                [--gc-loop 1]   with POST /api/system/storage/gc in a loop beside it (Berth); an image whose
                                manifest gets MANIFEST_BLOB_UNKNOWN (a run took a layer first) is pushed again
  manifest-load --target H:P [--repo R] [--method GET|HEAD] [--by tag|digest] [--conns 64] [--seconds 10] [--warmup 1] [--pid P]
                [--push-to H:P [--push-repo R]]   push the image there instead (a cache's upstream; or the
                                                   target itself and a virtual key's member as R)
  blob-head     --target H:P [--repo R] [--present 1|0] [--conns 64] [--seconds 10] [--pid P]
                [--push-to H:P [--push-repo R]]   the image pushed there, as for manifest-load
  crowd         --target H:P --kind idle|slow [--idle 10000] [--slow-headers 1000] [--slow-bodies 1000] [--per-source 250]
                [--header-interval 5] [--body-interval 1] [--body-bytes 4] [--conns 64] [--seconds 10] [--pid P]
                [--rounds 1]
                the manifest GET load alone, then with the crowd held open (one epoll thread); with
                --rounds N that N times, the round of median throughput ratio reported
  push-load     --target H:P [--pushes 4] [--size 1GiB] [--conns 64] [--seconds 10] [--max-during 300] [--pid P]
                [--rounds 1] (the round of median p99 ratio reported; each round pushes fresh blobs)
                the manifest GET load alone, then while N clients each push a blob (monolithic)
  seed-tags     --target H:P [--repo R] [--count 10000] [--workers 16] [--tag-suffix S] [--seed 99]
  tags-list     --target H:P [--repo R] [--iterations 20] [--seconds 60] [--n N] [--expect-min K] [--pid P]
  seed-repos    --target H:P [--prefix docker-local/bench/cat/r] [--count 2000] [--workers 16]
  catalog       --target H:P [--n 1000] [--iterations 20] [--seconds 60] [--expect-min K] [--pid P]
  promote       --target H:P [--repo R] [--to-repo KEY] [--layers 50] [--layer-size 4KiB] [--iterations 200] [--pid P]
                copies of one tag to fresh tags, then moves of it back and forth (Berth only)
  seed-registry2 --root DIR --referenced-list F --garbage-list F [--images 4500] [--layers 18] [--garbage 10000]
                [--garbage-per-image 20] [--blob-size 1KiB]   a registry:2 filesystem storage written directly:
                images of layers + config + manifest, and garbage (layers linked in _layers, in no manifest)
  gc            --target H:P [--dry-run 0] [--pid P]   one POST /api/system/storage/gc (Berth), measured
  run-measured  --cmd 'COMMAND' [--log F]   a command (sh -c) as a process: wall time, CPU, peak RSS (wait4)
  check-store   --blobs DIR --layout berth|registry2 --referenced-list F --garbage-list F
                referenced blobs still stored, garbage gone
  loopback      [--size 4GiB]           loopback TCP throughput of this machine
  free-port                             prints a free 127.0.0.1 port
  wait          --target H:P [--timeout 30]
  report        --dir RESULTS --out docs/benchmarks.md
Common: --max-seconds S (watchdog, default 900), --media oci|docker (manifest type, default oci).
Targets must be loopback addresses. Each command prints one JSON line.
)";
}

// Says who sent SIGTERM/SIGINT (on a shared machine it is not always run.sh), then exits as the
// signal would. Only async-signal-safe calls.
void onTerminate(int sig, siginfo_t* info, void*) {
  char pid[16], *d = pid + sizeof pid;
  *--d = 0;
  for (unsigned v = static_cast<unsigned>(info->si_pid); d == pid + sizeof pid - 1 || v; v /= 10)
    *--d = static_cast<char>('0' + v % 10);
  char path[40] = "/proc/", msg[300] = "[berth_bench] signal from pid ";
  std::strcat(std::strcat(path, d), "/cmdline");
  std::strcat(std::strcat(msg, d), ": ");
  size_t n = std::strlen(msg);
  int fd = open(path, O_RDONLY);
  ssize_t r = fd < 0 ? 0 : read(fd, msg + n, sizeof msg - n - 1);
  for (ssize_t i = 0; i < r; ++i, ++n)
    if (!msg[n]) msg[n] = ' ';
  msg[n++] = '\n';
  ssize_t w = write(2, msg, n);
  (void)w;
  _exit(128 + sig);
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_sigaction = onTerminate;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    usage();
    return 2;
  }
  std::string cmd = argv[1];
  static const std::map<std::string, std::function<json(const Args&)>> cmds = {
      {"push", cmdPush},           {"pull", cmdPull},         {"small-images", cmdSmallImages},
      {"manifest-load", cmdManifestLoad}, {"blob-head", cmdBlobHead}, {"crowd", cmdCrowd},
      {"push-load", cmdPushLoad},  {"seed-tags", cmdSeedTags}, {"tags-list", cmdTagsList},
      {"seed-repos", cmdSeedRepos}, {"catalog", cmdCatalog},   {"loopback", cmdLoopback},
      {"free-port", cmdFreePort},  {"wait", cmdWait},          {"report", cmdReport},
      {"promote", cmdPromote},     {"seed-registry2", cmdSeedRegistry2}, {"gc", cmdGc},
      {"run-measured", cmdRunMeasured}, {"check-store", cmdCheckStore}};
  auto it = cmds.find(cmd);
  if (it == cmds.end()) {
    usage();
    return 2;
  }
  json out;
  int rc = 0;
  try {
    Args args(argc, argv, 2);
    double max_secs = args.dbl("max-seconds", 900);
    std::thread([max_secs, cmd] {
      std::this_thread::sleep_for(std::chrono::duration<double>(max_secs));
      json j = {{"scenario", cmd}, {"ok", false}, {"error", "watchdog: exceeded --max-seconds"}};
      std::cout << j.dump() << std::endl;
      std::_Exit(3);
    }).detach();
    out = it->second(args);
    out["ok"] = true;
  } catch (const std::exception& e) {
    out = {{"scenario", cmd}, {"ok", false}, {"error", e.what()}};
    rc = 1;
  }
  std::cout << out.dump() << std::endl;
  return rc;
}
