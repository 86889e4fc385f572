// Loading a configuration document: YAML, then `${NAME}` references, then
// BERTH_ environment overrides, then the parser and the checks, every
// problem collected and placed at its line and column (or named by its
// environment variable) before one ConfigError is thrown.
#pragma once

#include <string>

#include "berth/config.h"
#include "config/env_overrides.h"

namespace berth::config {

// The parser and the checks proper (config.cc): they report problems to the
// current ProblemCollector, or throw for the part they cannot go on with.
// (The document by value: yaml-cpp's const lookups of an absent key give a node
// that throws on use, its non-const ones an empty node, which the readers expect.)
Config parseDocument(YAML::Node doc, const std::string& origin);
void validateConfig(const Config& config, const std::string& origin);

Config loadDocument(const std::string& text, const std::string& origin, const Environment& env);

// Every key path the parser accepts ("server.listen", "repositories[].url"),
// read off the parser itself; docs/configuration.md must document each.
std::set<std::string> acceptedKeyPaths();

}  // namespace berth::config
