// Basics shared by every part of berth_bench: units, the clock, errors, logging.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace berth_bench {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

[[noreturn]] void fail(const std::string& msg);

// Progress and diagnostics go to stderr; stdout carries only the JSON result.
void logProgress(const std::string& s);

double secondsSince(Clock::time_point t0);
double micros(Clock::time_point a, Clock::time_point b);

std::string toLower(std::string s);

// `i` in decimal, zero-padded to `width` digits (tags and repository names).
std::string zeroPadded(int i, int width);

}  // namespace berth_bench
