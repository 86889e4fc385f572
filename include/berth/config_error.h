// What loading a configuration found wrong: every problem, each with where
// it is (a line and column of the file, or the environment variable it came
// from), so that `berth check-config` can list them all at once.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace berth::config {

struct ConfigProblem {
  std::string message;   // starts with the key it is about: "server.workers has the wrong type"
  int line = 0;          // 1-based place in the file; 0 = not at a place in the file
  int column = 0;
  std::string variable;  // the environment variable the value came from, if it did

  // "berth.yml:3:12: <message>", "environment variable BERTH_X: <message>"
  // or "berth.yml: <message>". Never holds a value from the environment.
  std::string text(const std::string& origin) const;
};

// Thrown by the loaders; what() is every problem's text, one per line.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string origin, std::vector<ConfigProblem> problems);
  const std::string& origin() const { return origin_; }
  const std::vector<ConfigProblem>& problems() const { return problems_; }

 private:
  std::string origin_;
  std::vector<ConfigProblem> problems_;
};

}  // namespace berth::config
