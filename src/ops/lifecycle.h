// The image lifecycle over repositories (docs/lifecycle.md): promotion
// between repositories, and deletion of tags and images. It checks what the
// repositories are (types, keys) and runs each change as one metadata
// transaction; it never checks permissions: the API asks the access
// controller first, for every image it names.
//
// Thread safety: every method may be called concurrently.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "berth/repo/repository.h"
#include "berth/storage/metadata_store.h"

namespace berth::ops {

struct Promotion {
  std::string source_repo, image;         // the source: a local repository or a remote's cache
  std::string target_repo, target_image;  // the target: a local repository
  std::optional<std::string> tag;         // absent: the whole image
  std::string target_tag;                 // with tag; empty: the same tag
  bool copy = false;                      // false: a move
};

class Lifecycle {
 public:
  Lifecycle(std::shared_ptr<const repo::RepositoryRegistry> registry, storage::MetadataStorePtr meta);

  // Runs the promotion, or changes nothing. NAME_UNKNOWN for an unknown
  // repository, NOT_FOUND for an unknown image or tag or a source that lacks
  // part of the image; BAD_REQUEST for a target that is not local, a virtual
  // source, or a source that is its own target. An outcome of
  // OverwriteRefused (allow_overwrite false) changed nothing either.
  Result<storage::PromoteOutcome> promote(const Promotion& p, bool allow_overwrite);

  // The repository whose content a delete addressed to `key` removes: itself
  // (local, or a remote's cache), or a virtual repository's default
  // deployment repository (UNSUPPORTED without one). NAME_UNKNOWN when unknown.
  Result<std::string> deletionTarget(const std::string& key) const;
  Result<bool> tagExists(const std::string& key, const std::string& image, const std::string& tag) const;
  Result<bool> imageExists(const std::string& key, const std::string& image) const;
  // The tag, then what it alone held (pruning); false when it does not exist.
  Result<bool> deleteTag(const std::string& key, const std::string& image, const std::string& tag);
  // Every tag, manifest and blob link of the image; false when unknown.
  Result<bool> deleteImage(const std::string& key, const std::string& image);

 private:
  Result<const repo::Repository*> find(const std::string& key, const char* role) const;

  std::shared_ptr<const repo::RepositoryRegistry> registry_;
  storage::MetadataStorePtr meta_;
};

}  // namespace berth::ops
