// Reads the `security` section (users, groups, permissions, tokens).
#pragma once

#include "berth/config.h"
#include "config/yaml_util.h"

namespace berth::config {

void readSecurity(const YAML::Node& node, Security& out, const std::string& origin);
void validateSecurity(const Config& c, const std::string& origin);

}  // namespace berth::config
