// Commands bench/run.sh uses around the scenarios: the loopback TCP limit of
// the machine, a free port for a server, and waiting for a server to answer.

#include <thread>

#include "commands.h"
#include "data.h"
#include "net.h"

namespace berth_bench {

json cmdLoopback(const Args& a) {
  Pattern pat(3, a.size("size", 4 * GiB));
  LoopbackTransfer x = transferOverLoopback(pat);
  if (x.received != pat.size()) fail("loopback: received " + std::to_string(x.received));
  return {{"scenario", "loopback"},
          {"bytes", pat.size()},
          {"seconds", x.seconds},
          {"mib_s", static_cast<double>(pat.size()) / MiB / x.seconds}};
}

json cmdFreePort(const Args&) { return {{"port", freeLoopbackPort()}}; }

json cmdWait(const Args& a) {
  Target t = parseTarget(a.need("target"));
  double timeout = a.dbl("timeout", 30);
  auto t0 = Clock::now();
  std::string last;
  while (secondsSince(t0) < timeout) {
    try {
      Conn c(t);
      Resp r = c.send({.method = "GET", .target = "/v2/"});
      if (r.status == 200 || r.status == 401) return {{"ready", true}, {"seconds", secondsSince(t0)}};
      last = describe(r);
    } catch (const std::exception& e) {
      last = e.what();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  fail("server not ready after " + std::to_string(timeout) + "s: " + last);
}

}  // namespace berth_bench
