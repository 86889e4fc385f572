// Measurements: CPU and RSS of the server process (from /proc), this
// process's CPU, and latency percentiles.
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common.h"

namespace berth_bench {

std::optional<double> procCpuSeconds(int pid);  // utime + stime
std::optional<long> procStatusKib(int pid, const std::string& key);  // e.g. VmRSS, VmHWM
double clientCpuSeconds();

// CPU seconds and peak RSS of the server process over a measured window; pid 0 measures nothing.
class Probe {
 public:
  explicit Probe(int pid) : pid_(pid) {}
  ~Probe() { stopSampler(); }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;
  void start();
  json finish();  // server_cpu_s, server_peak_rss_kib, ...; {} without a pid

 private:
  void stopSampler();
  int pid_;
  double cpu0_ = 0;
  bool hwm_reset_ = false;
  std::atomic<bool> running_{false};
  std::atomic<long> max_rss_{0};
  std::thread sampler_;
};

// The measured part of a scenario: wall time, this process's CPU and the server probe.
class MeasuredWindow {
 public:
  struct Result {
    double seconds;
    double client_cpu_s;
    json server;  // Probe::finish()
  };
  explicit MeasuredWindow(int server_pid);  // starts the probe, then the clocks
  Clock::time_point started() const { return t0_; }
  Result finish();

 private:
  Probe probe_;
  double cpu0_;
  Clock::time_point t0_;
};

// Adds the server probe's fields to `j` and, when it measured CPU, `key` = server CPU seconds per `units`.
void addServerProbe(json& j, const json& server, const char* key, double units);

// p50/p90/p99/max/mean in ms and the sample count, from microseconds (sorts `us`); {} when empty.
json latencyStats(std::vector<double>& us);

}  // namespace berth_bench
