// The problems of one configuration load, collected rather than thrown one
// at a time, so that `berth check-config` lists them all.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

#include "berth/config_error.h"

namespace berth::config {

// A problem that stops reading the current part of the document (bad()
// throws it). The loader catches it, keeps it and goes on with the next part.
class ProblemError : public std::runtime_error {
 public:
  ProblemError(const std::string& origin, std::string message, YAML::Mark mark = YAML::Mark::null_mark())
      : std::runtime_error(origin + ": " + message), message_(std::move(message)), mark_(mark) {}
  const std::string& message() const { return message_; }
  const YAML::Mark& mark() const { return mark_; }

 private:
  std::string message_;
  YAML::Mark mark_;
};

// Collects what goes wrong on this thread while it exists (they nest: the
// innermost collects). Not shared between threads.
class ProblemCollector {
 public:
  ProblemCollector();
  ~ProblemCollector();
  ProblemCollector(const ProblemCollector&) = delete;
  ProblemCollector& operator=(const ProblemCollector&) = delete;

  static ProblemCollector* current();

  // With a mark from the file, the problem is at that place; without, the
  // loader places it afterwards by the key path its message starts with.
  void add(std::string message, const YAML::Mark& mark = YAML::Mark::null_mark(), std::string variable = "");
  std::vector<ConfigProblem>& problems() { return problems_; }
  bool reportedAt(const YAML::Mark& mark) const;

  // Runs fn; a problem it throws is kept. False if it threw.
  template <class F>
  bool guard(F&& fn) {
    try {
      fn();
      return true;
    } catch (const ProblemError& e) {
      add(e.message(), e.mark());
    } catch (const YAML::Exception& e) {
      // yaml-cpp refusing a lookup in a node already reported as the wrong
      // kind says nothing new.
      if (!reportedAt(e.mark)) add(e.msg, e.mark);
    } catch (const std::exception& e) {
      add(e.what());
    }
    return false;
  }

 private:
  ProblemCollector* previous_;
  std::vector<ConfigProblem> problems_;
};

// Reports a problem and lets the caller go on; with no collector installed
// (a reader called on its own) it throws instead.
void report(const std::string& origin, const std::string& message, const YAML::Mark& mark = YAML::Mark::null_mark());

// Runs fn under the current collector's guard, or plainly when there is none.
template <class F>
bool carryOn(F&& fn) {
  if (auto* c = ProblemCollector::current()) return c->guard(std::forward<F>(fn));
  fn();
  return true;
}

}  // namespace berth::config
