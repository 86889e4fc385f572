// Which foreign-layer URLs a remote repository fetches and caches
// (foreign_layers.include): Ant-style patterns over the whole URL, where `**`
// matches anything, `*` anything but '/', and `?` one character but '/'.
// Pure; unit-tested.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth::repo::remote {

bool antMatch(std::string_view pattern, std::string_view text);
// The first URL that some pattern matches; "" when none does.
std::string firstAllowedUrl(const std::vector<std::string>& urls, const std::vector<std::string>& include);

}  // namespace berth::repo::remote
