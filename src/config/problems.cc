#include "config/problems.h"

namespace berth::config {
namespace {
thread_local ProblemCollector* current_collector = nullptr;
}

std::string ConfigProblem::text(const std::string& origin) const {
  if (line > 0) return origin + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
  if (!variable.empty()) return "environment variable " + variable + ": " + message;
  return origin + ": " + message;
}

namespace {
std::string joined(const std::string& origin, const std::vector<ConfigProblem>& problems) {
  std::string out;
  for (const auto& p : problems) out += (out.empty() ? "" : "\n") + p.text(origin);
  return out;
}
}  // namespace

ConfigError::ConfigError(std::string origin, std::vector<ConfigProblem> problems)
    : std::runtime_error(joined(origin, problems)), origin_(std::move(origin)), problems_(std::move(problems)) {}

ProblemCollector::ProblemCollector() : previous_(current_collector) { current_collector = this; }
ProblemCollector::~ProblemCollector() { current_collector = previous_; }
ProblemCollector* ProblemCollector::current() { return current_collector; }

void ProblemCollector::add(std::string message, const YAML::Mark& mark, std::string variable) {
  ConfigProblem p{std::move(message), 0, 0, std::move(variable)};
  if (!mark.is_null()) {
    p.line = mark.line + 1;
    p.column = mark.column + 1;
  }
  problems_.push_back(std::move(p));
}

bool ProblemCollector::reportedAt(const YAML::Mark& mark) const {
  if (mark.is_null()) return false;
  for (const auto& p : problems_)
    if (p.line == mark.line + 1 && p.column == mark.column + 1) return true;
  return false;
}

void report(const std::string& origin, const std::string& message, const YAML::Mark& mark) {
  if (auto* c = ProblemCollector::current()) return c->add(message, mark);
  throw ProblemError(origin, message, mark);
}

}  // namespace berth::config
