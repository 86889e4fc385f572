#include "args.h"

#include <string_view>

#include "common.h"

namespace berth_bench {

Args::Args(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (!a.starts_with("--")) fail("unexpected argument: " + a);
    a = a.substr(2);
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      kv_[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) {
      kv_[a] = argv[++i];
    } else {
      kv_.insert_or_assign(a, std::string("1"));  // not = "1": GCC 12 -Wrestrict false positive at -O3
    }
  }
}

std::string Args::str(const std::string& k, const std::string& def) const {
  auto it = kv_.find(k);
  return it == kv_.end() ? def : it->second;
}

std::string Args::need(const std::string& k) const {
  if (!has(k)) fail("missing --" + k);
  return str(k);
}

long long Args::num(const std::string& k, long long def) const { return has(k) ? std::stoll(str(k)) : def; }

double Args::dbl(const std::string& k, double def) const { return has(k) ? std::stod(str(k)) : def; }

bool Args::flag(const std::string& k, bool def) const {
  if (!has(k)) return def;
  auto v = str(k);
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

uint64_t Args::size(const std::string& k, uint64_t def) const { return has(k) ? parseSize(str(k)) : def; }

uint64_t Args::parseSize(const std::string& s) {
  size_t pos = 0;
  double v = std::stod(s, &pos);
  std::string unit = toLower(s.substr(pos));
  uint64_t m = 1;
  if (unit.empty() || unit == "b") m = 1;
  else if (unit == "k" || unit == "kib" || unit == "kb") m = KiB;
  else if (unit == "m" || unit == "mib" || unit == "mb") m = MiB;
  else if (unit == "g" || unit == "gib" || unit == "gb") m = GiB;
  else fail("bad size unit in " + s);
  return static_cast<uint64_t>(v * static_cast<double>(m));
}

}  // namespace berth_bench
