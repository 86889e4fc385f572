// The sizes that fetched manifests gave their blobs, per image: what a
// remote repository holds a blob fetch to when the upstream announces no
// length (a chunked body), so that a body without end stops at the size the
// manifest promised. Per image, as foreign-layer URLs are: one image's
// manifest says nothing about another's blobs.
//
// Bounded (the oldest entries go first): a size not known any more is only a
// looser cap (max_blob_bytes), never a wrong answer.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "berth/core/digest.h"

namespace berth::repo::remote {

class DescriptorSizes {
 public:
  explicit DescriptorSizes(std::size_t capacity = 16384) : capacity_(capacity) {}

  void note(const std::string& name, const Digest& d, uint64_t size) {
    std::lock_guard lock(mu_);
    auto [it, added] = sizes_.insert_or_assign(name + "@" + d.str(), size);
    if (!added) return;
    order_.push_back(it->first);
    while (order_.size() > capacity_) {
      sizes_.erase(order_.front());
      order_.pop_front();
    }
  }

  std::optional<uint64_t> find(const std::string& name, const Digest& d) const {
    std::lock_guard lock(mu_);
    if (auto it = sizes_.find(name + "@" + d.str()); it != sizes_.end()) return it->second;
    return std::nullopt;
  }

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> sizes_;
  std::deque<std::string> order_;  // keys of sizes_, oldest first
};

}  // namespace berth::repo::remote
