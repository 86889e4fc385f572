#include "ops/lifecycle.h"

namespace berth::ops {
namespace {

using config::RepoType;

const char* typeName(RepoType t) {
  return t == RepoType::Local ? "local" : t == RepoType::Remote ? "remote" : "virtual";
}

}  // namespace

Lifecycle::Lifecycle(std::shared_ptr<const repo::RepositoryRegistry> registry, storage::MetadataStorePtr meta)
    : registry_(std::move(registry)), meta_(std::move(meta)) {}

Result<const repo::Repository*> Lifecycle::find(const std::string& key, const char* role) const {
  const repo::Repository* r = registry_->find(key);
  if (!r) return fail(ErrorCode::NameUnknown, std::string(role) + " repository '" + key + "' does not exist", key);
  return r;
}

Result<storage::PromoteOutcome> Lifecycle::promote(const Promotion& p, bool allow_overwrite) {
  auto source = find(p.source_repo, "source");
  if (!source) return tl::unexpected(source.error());
  auto target = find(p.target_repo, "target");
  if (!target) return tl::unexpected(target.error());
  if ((*source)->settings().type == RepoType::Virtual)
    return fail(ErrorCode::BadRequest,
                "source repository '" + p.source_repo +
                    "' is virtual: promote from the local or remote repository that holds the image");
  if (const auto& t = (*target)->settings(); t.type != RepoType::Local) {
    std::string hint = t.type == RepoType::Virtual && !t.virt.default_deployment_repo.empty()
                           ? " (its default deployment repository is '" + t.virt.default_deployment_repo + "')"
                           : "";
    return fail(ErrorCode::BadRequest, "target repository '" + p.target_repo + "' is " + typeName(t.type) +
                                           ": images are promoted into local repositories only" + hint);
  }
  std::string target_tag = p.tag ? (p.target_tag.empty() ? *p.tag : p.target_tag) : std::string();
  if (p.source_repo == p.target_repo && p.image == p.target_image && (!p.tag || target_tag == *p.tag))
    return fail(ErrorCode::BadRequest, "the source and the target are the same: name another targetRepo, "
                                       "targetDockerRepository or targetTag");
  storage::PromoteSpec spec;
  spec.from_repo = p.source_repo;
  spec.from_name = p.image;
  spec.to_repo = p.target_repo;
  spec.to_name = p.target_image;
  spec.tag = p.tag;
  spec.target_tag = target_tag;
  spec.move = !p.copy;
  spec.allow_overwrite = allow_overwrite;
  const auto& local = (*target)->settings().local;
  spec.limit = {local.max_unique_tags, local.protected_tags};
  auto out = meta_->promote(spec);
  if (!out) return out;
  const std::string where = " in repository '" + p.source_repo + "'";
  switch (out->status) {
    case storage::PromoteStatus::ImageUnknown:
      return fail(ErrorCode::NotFound, "image '" + p.image + "' not found" + where, p.image);
    case storage::PromoteStatus::TagUnknown:
      return fail(ErrorCode::NotFound, "tag '" + out->detail + "' of image '" + p.image + "' not found" + where,
                  p.image + ":" + out->detail);
    case storage::PromoteStatus::Incomplete:
      return fail(ErrorCode::NotFound,
                  "image '" + p.image + "'" + where + " lacks " + out->detail +
                      " (a manifest of its index, or a layer; a remote repository's cache holds only what was "
                      "pulled): nothing was promoted",
                  out->detail);
    default: return out;
  }
}

Result<std::string> Lifecycle::deletionTarget(const std::string& key) const {
  auto r = find(key, "the");
  if (!r) return tl::unexpected(r.error());
  const auto& s = (*r)->settings();
  if (s.type != RepoType::Virtual) return key;
  if (s.virt.default_deployment_repo.empty())
    return fail(ErrorCode::Unsupported,
                "virtual repository has no default deployment repository: pushes and deletes are not accepted", key);
  return s.virt.default_deployment_repo;
}

Result<bool> Lifecycle::tagExists(const std::string& key, const std::string& image, const std::string& tag) const {
  auto d = meta_->resolveTag(key, image, tag);
  if (!d) return tl::unexpected(d.error());
  return d->has_value();
}

Result<bool> Lifecycle::imageExists(const std::string& key, const std::string& image) const {
  return meta_->imageExists(key, image);
}

Result<bool> Lifecycle::deleteTag(const std::string& key, const std::string& image, const std::string& tag) {
  return meta_->deleteTagAndPrune(key, image, tag);
}

Result<bool> Lifecycle::deleteImage(const std::string& key, const std::string& image) {
  return meta_->deleteImage(key, image);
}

}  // namespace berth::ops
