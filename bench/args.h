// Command-line options: `--key value`, `--key=value` or a bare `--flag`.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace berth_bench {

class Args {
 public:
  // Parses argv[first..argc).
  Args(int argc, char** argv, int first);

  bool has(const std::string& k) const { return kv_.count(k) != 0; }
  std::string str(const std::string& k, const std::string& def = "") const;
  std::string need(const std::string& k) const;  // fails when absent
  long long num(const std::string& k, long long def) const;
  double dbl(const std::string& k, double def) const;
  bool flag(const std::string& k, bool def) const;  // 1/true/yes/on
  uint64_t size(const std::string& k, uint64_t def) const;

  // "64MiB", "1g", "4096": a byte count with an optional binary unit.
  static uint64_t parseSize(const std::string& s);

 private:
  std::map<std::string, std::string> kv_;
};

}  // namespace berth_bench
