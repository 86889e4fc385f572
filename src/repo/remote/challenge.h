// The WWW-Authenticate challenge of an upstream registry (RFC 7235, as the
// Docker token spec uses it): `Bearer realm="...",service="...",scope="..."`
// or `Basic realm="..."`. Pure; unit-tested.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace berth::repo::remote {

struct Challenge {
  std::string scheme;  // lower case: "bearer" or "basic" (others are kept as sent)
  std::map<std::string, std::string> params;  // names lower case, values unquoted
  std::string param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
};

// The first challenge in the header value; none when it cannot be read.
std::optional<Challenge> parseChallenge(std::string_view header);

}  // namespace berth::repo::remote
