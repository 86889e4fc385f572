#pragma once
// Whole tag lists of images, kept in memory so that a list (and above all a
// virtual repository's merge of several members' lists) need not scan and
// copy the image's rows out of SQLite every time.
//
// An entry is valid for one version of its image's tags: the metadata store
// keeps that version in SQLite (triggers bump it on every tag row inserted,
// updated or deleted, whichever process or code path writes), so a stale
// entry is never served, even after another process (an import) wrote.

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "berth/storage/metadata_store.h"

namespace berth::storage {

class TagListCache {
 public:
  // At most max_tags tag names in all (older entries are evicted first).
  explicit TagListCache(std::size_t max_tags) : max_tags_(max_tags) {}

  // The page of tags after `last` (at most n), when the image's whole list
  // at this version is held; empty otherwise.
  std::optional<Page> page(const std::string& image, int64_t version, const std::string& last, std::size_t n);
  // Keeps the image's whole sorted list at this version (not when it alone
  // would exceed the bound).
  void put(const std::string& image, int64_t version, std::vector<std::string> sorted_tags);

  // An image's list at this version is beyond the bound: remembered, so
  // that its first page does not read the bound's worth of rows again each
  // time only to find that out (it is paged from SQLite instead).
  void noteTooBig(const std::string& image, int64_t version);
  bool knownTooBig(const std::string& image, int64_t version) const;

  std::size_t tagsHeld() const { return held_; }

 private:
  struct Entry {
    int64_t version;
    std::vector<std::string> tags;
    std::list<std::string>::iterator lru;
  };
  void evict(const std::string& image);

  const std::size_t max_tags_;
  std::size_t held_ = 0;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently used first
  // Images too big to hold, by the version that was; few in practice, and
  // simply forgotten all at once beyond kMaxTooBig.
  static constexpr std::size_t kMaxTooBig = 1024;
  std::unordered_map<std::string, int64_t> too_big_;
};

}  // namespace berth::storage
