#include "common.h"

#include <cctype>
#include <cstdio>
#include <iostream>
#include <stdexcept>

namespace berth_bench {

void fail(const std::string& msg) { throw std::runtime_error(msg); }

void logProgress(const std::string& s) { std::cerr << "[berth_bench] " << s << std::endl; }

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

std::string toLower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string zeroPadded(int i, int width) {
  char b[32];
  std::snprintf(b, sizeof b, "%0*d", width, i);
  return b;
}

}  // namespace berth_bench
