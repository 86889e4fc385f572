// The parts of the `report` command that its sections share: reading result
// files, formatting numbers, and one table row comparing both servers.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common.h"

namespace berth_bench::report {

// The last non-empty line of a result file as JSON; null when absent or empty.
json loadJson(const std::filesystem::path& p);
// The median of the values; empty when there are none.
std::optional<double> median(std::vector<double> v);
// "not run", the error of a failed result, or "" for a good one.
std::string errorOf(const json& j);
// The number at a dotted path ("walk.p50_ms") of a good result.
std::optional<double> numberAt(const json& j, const std::string& path);
std::string fmtNum(std::optional<double> v, int prec);
// Whole numbers as such, others with about three significant digits.
std::string fmtAuto(std::optional<double> v);

// One table row: the same value from both servers' results, and whether Berth met its target.
struct Row {
  enum Goal { kHigher, kLower, kInfo };  // higher better, lower better, informational
  std::string label, file, key;
  Goal goal;
  double factor;  // target ratio berth / registry:2
  std::string target;
  bool push = false;          // also needs >= 70% of the machine's push limit
  bool absolute_rss = false;  // target is berth < 64 MiB, not a ratio
  // Targets on Berth's own value instead of the ratio (either or both).
  std::optional<double> berth_min = std::nullopt, berth_max = std::nullopt;
};

// The report as its sections see it.
class Tables {
 public:
  virtual ~Tables() = default;
  virtual std::ostream& md() = 0;
  // side: "registry" or "berth"; name: a result file without ".json".
  virtual json result(const std::string& side, const std::string& name) const = 0;
  virtual void row(const Row& r) = 0;
  // Counts a target as met, missed or unknown (nullopt) and returns the "met?" cell.
  virtual std::string verdict(std::optional<bool> ok) = 0;
};

// report_crowd.cc: idle and slow crowds, the load during large pushes.
bool hasCrowdResults(const Tables& t);
void writeCrowdTables(Tables& t, const std::string& table_header);
void writeCrowdNotes(Tables& t);

// report_remote.cc: pull-through caches (RESULTS/remote/, from bench/run_remote.sh).
bool hasRemoteResults(const std::filesystem::path& results_dir);
void writeRemoteTables(Tables& t, const std::filesystem::path& results_dir);
void writeRemoteNotes(Tables& t, const std::filesystem::path& results_dir);

// report_virtual.cc: virtual repositories beside their members (RESULTS/virtual/, from bench/run_virtual.sh).
bool hasVirtualResults(const std::filesystem::path& results_dir);
void writeVirtualTables(Tables& t, const std::filesystem::path& results_dir);
void writeVirtualNotes(Tables& t, const std::filesystem::path& results_dir);

// report_lifecycle.cc: garbage collection beside registry:2's, the storm during GC, promotion
// (RESULTS/lifecycle/, from bench/run_lifecycle.sh).
bool hasLifecycleResults(const std::filesystem::path& results_dir);
void writeLifecycleTables(Tables& t, const std::filesystem::path& results_dir);
void writeLifecycleNotes(Tables& t, const std::filesystem::path& results_dir);

}  // namespace berth_bench::report
