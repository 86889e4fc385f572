#include "workers.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "args.h"
#include "measure.h"

namespace berth_bench {

namespace {

// The first error reported by any worker.
class FirstError {
 public:
  void record(const std::string& msg) {
    std::lock_guard<std::mutex> l(mu_);
    if (msg_.empty()) msg_ = msg;
  }
  // Only once the workers are joined.
  const std::string& message() const { return msg_; }

 private:
  std::mutex mu_;
  std::string msg_;
};

}  // namespace

void runWorkers(const Target& t, int workers, const std::function<void(int, Conn&)>& work) {
  std::vector<std::thread> ths;
  FirstError first_err;
  for (int w = 0; w < workers; ++w) {
    ths.emplace_back([&, w] {
      try {
        Conn c(t);
        work(w, c);
      } catch (const std::exception& e) {
        first_err.record(e.what());
      }
    });
  }
  for (auto& th : ths) th.join();
  if (!first_err.message().empty()) fail(first_err.message());
}

LoadSpec loadSpecFrom(const Args& a) {
  LoadSpec s;
  s.conns = static_cast<int>(a.num("conns", 64));
  s.seconds = a.dbl("seconds", 10);
  s.warmup = a.dbl("warmup", 1);
  s.max_requests = static_cast<uint64_t>(a.num("max-requests", 5'000'000));
  return s;
}

json runLoad(const Target& t, const LoadSpec& s, int pid) {
  if (s.conns < 1 || s.conns > 1024) fail("--conns 1..1024");
  if (s.seconds <= 0 || s.seconds > 600) fail("--seconds (0, 600]");
  std::atomic<int> phase{0};  // 0 warm-up, 1 measuring, 2 stop
  std::atomic<uint64_t> issued{0}, errors{0}, bad_status{0};
  std::atomic<int> active{s.conns};
  std::vector<std::vector<double>> lat(static_cast<size_t>(s.conns));
  FirstError first_err;
  std::vector<std::thread> ths;
  for (int w = 0; w < s.conns; ++w) {
    ths.emplace_back([&, w] {
      auto& mine = lat[static_cast<size_t>(w)];
      mine.reserve(1 << 16);
      std::optional<Conn> c;
      try {
        c.emplace(t);  // its io_context needs descriptors too
      } catch (const std::exception& e) {
        ++errors;
        first_err.record(std::string("load connection: ") + e.what());
        --active;
        return;
      }
      Req rq;
      std::string scratch;
      for (uint64_t iter = 0; phase.load(std::memory_order_relaxed) < 2; ++iter) {
        if (issued++ >= s.max_requests) break;
        s.make(w, iter, rq, scratch);
        bool counted = phase.load(std::memory_order_relaxed) == 1;
        auto a = Clock::now();
        try {
          Resp r = c->send(rq);
          auto b = Clock::now();
          if (counted && phase.load(std::memory_order_relaxed) == 1) {
            bool good = r.status == s.expect;
            if (good || !s.tolerate_failures) mine.push_back(micros(a, b));
            if (!good && bad_status++ == 0) first_err.record(std::string(rq.target) + ": " + describe(r));
          }
        } catch (const std::exception& e) {
          ++errors;
          first_err.record(e.what());
          c->close();
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
      --active;
    });
  }
  auto waitUntil = [&](Clock::time_point deadline, bool measuring) {
    while (Clock::now() < deadline && active.load() > 0 && !(measuring && s.stop_when && s.stop_when()))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  auto tw = Clock::now();
  waitUntil(tw + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.warmup)), false);
  MeasuredWindow window(pid);
  phase = 1;
  waitUntil(window.started() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.seconds)), true);
  phase = 2;
  auto m = window.finish();
  for (auto& th : ths) th.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  uint64_t n = all.size();
  uint64_t ok = s.tolerate_failures ? n : n - std::min(n, bad_status.load());
  const std::string& err = first_err.message();
  json j = {{"conns", s.conns},
            {"seconds", m.seconds},
            {"requests", n},
            {"rps", static_cast<double>(n) / m.seconds},
            {"ok_rps", static_cast<double>(ok) / m.seconds},
            {"errors", errors.load()},
            {"bad_status", bad_status.load()},
            {"expect_status", s.expect},
            {"client_cpu_s", m.client_cpu_s}};
  if (!err.empty()) j["first_error"] = err;
  j.update(latencyStats(all));
  if (!s.tolerate_failures) {
    if (n == 0) fail("no request completed" + (err.empty() ? "" : ": " + err));
    if (bad_status.load() * 100 > n) fail("more than 1% unexpected status: " + err);
  }
  addServerProbe(j, m.server, "server_cpu_s_per_1k_req", static_cast<double>(std::max<uint64_t>(n, 1)) / 1000.0);
  return j;
}

}  // namespace berth_bench
