#include "storage/tag_list_cache.h"

#include <algorithm>

namespace berth::storage {

std::optional<Page> TagListCache::page(const std::string& image, int64_t version, const std::string& last,
                                       std::size_t n) {
  auto it = entries_.find(image);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.version != version) {
    evict(image);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  const auto& tags = it->second.tags;
  auto from = last.empty() ? tags.begin() : std::upper_bound(tags.begin(), tags.end(), last);
  auto left = static_cast<std::size_t>(tags.end() - from);
  Page p;
  p.items.assign(from, from + static_cast<std::ptrdiff_t>(std::min(n, left)));
  p.more = left > n;
  return p;
}

void TagListCache::put(const std::string& image, int64_t version, std::vector<std::string> sorted_tags) {
  evict(image);
  if (sorted_tags.size() > max_tags_) return noteTooBig(image, version);
  too_big_.erase(image);
  while (held_ + sorted_tags.size() > max_tags_ && !lru_.empty()) evict(lru_.back());
  held_ += sorted_tags.size();
  lru_.push_front(image);
  entries_[image] = Entry{version, std::move(sorted_tags), lru_.begin()};
}

void TagListCache::noteTooBig(const std::string& image, int64_t version) {
  if (too_big_.size() >= kMaxTooBig && !too_big_.contains(image)) too_big_.clear();
  too_big_[image] = version;
}

bool TagListCache::knownTooBig(const std::string& image, int64_t version) const {
  auto it = too_big_.find(image);
  return it != too_big_.end() && it->second == version;
}

void TagListCache::evict(const std::string& image) {
  auto it = entries_.find(image);
  if (it == entries_.end()) return;
  held_ -= it->second.tags.size();
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

}  // namespace berth::storage
