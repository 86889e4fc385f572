#include "measure.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace berth_bench {

namespace {

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<double> procCpuSeconds(int pid) {
  std::string s = readFile("/proc/" + std::to_string(pid) + "/stat");
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::istringstream in(s.substr(rp + 2));
  std::vector<std::string> f;
  std::string tok;
  while (in >> tok) f.push_back(tok);
  if (f.size() < 13) return std::nullopt;
  // after ')': state(3) ppid(4) ... utime(14) stime(15) -> indices 11, 12
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(f[11]) + std::stod(f[12])) / ticks;
}

std::optional<long> procStatusKib(int pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with(key + ":")) return std::stol(line.substr(key.size() + 1));
  }
  return std::nullopt;
}

double clientCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------- Probe

void Probe::start() {
  if (!pid_) return;
  if (!procCpuSeconds(pid_)) fail("no such server pid " + std::to_string(pid_));
  std::ofstream cr("/proc/" + std::to_string(pid_) + "/clear_refs");
  cr << "5";  // resets VmHWM to the current RSS
  cr.flush();
  hwm_reset_ = cr.good();
  cpu0_ = *procCpuSeconds(pid_);
  running_ = true;
  sampler_ = std::thread([this] {
    while (running_) {
      if (auto v = procStatusKib(pid_, "VmRSS")) max_rss_ = std::max(max_rss_.load(), *v);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
}

json Probe::finish() {
  json j = json::object();
  if (!pid_) return j;
  auto cpu1 = procCpuSeconds(pid_);
  stopSampler();
  auto hwm = procStatusKib(pid_, "VmHWM");
  long sampled = max_rss_.load();
  long peak = sampled;
  if (hwm_reset_ && hwm) peak = std::max(peak, *hwm);
  j["server_cpu_s"] = cpu1 ? *cpu1 - cpu0_ : -1.0;
  j["server_peak_rss_kib"] = peak;
  j["server_rss_sampled_max_kib"] = sampled;
  j["server_vmhwm_kib"] = hwm ? *hwm : -1;
  j["server_vmhwm_reset"] = hwm_reset_;
  return j;
}

void Probe::stopSampler() {
  running_ = false;
  if (sampler_.joinable()) sampler_.join();
}

// ---------------------------------------------------------------- MeasuredWindow

MeasuredWindow::MeasuredWindow(int server_pid) : probe_(server_pid) {
  probe_.start();
  cpu0_ = clientCpuSeconds();
  t0_ = Clock::now();
}

MeasuredWindow::Result MeasuredWindow::finish() {
  double secs = secondsSince(t0_);
  double ccpu = clientCpuSeconds() - cpu0_;
  return {secs, ccpu, probe_.finish()};
}

void addServerProbe(json& j, const json& server, const char* key, double units) {
  j.update(server);
  if (server.contains("server_cpu_s")) j[key] = server["server_cpu_s"].get<double>() / units;
}

// ---------------------------------------------------------------- latency

json latencyStats(std::vector<double>& us) {
  json j = json::object();
  if (us.empty()) return j;
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    size_t idx = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(us.size())));
    idx = std::clamp<size_t>(idx, 1, us.size()) - 1;
    return us[idx] / 1000.0;
  };
  double sum = 0;
  for (double v : us) sum += v;
  j["p50_ms"] = pct(50);
  j["p90_ms"] = pct(90);
  j["p99_ms"] = pct(99);
  j["max_ms"] = us.back() / 1000.0;
  j["mean_ms"] = sum / static_cast<double>(us.size()) / 1000.0;
  j["samples"] = us.size();
  return j;
}

}  // namespace berth_bench
