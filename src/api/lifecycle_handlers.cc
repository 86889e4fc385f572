// Artifactory's image lifecycle routes (docs/lifecycle.md):
//   POST [/artifactory]/api/docker/<repoKey>/v2/promote   promote (copy or move) a tag or an image
//   DELETE /artifactory/<repoKey>/<image>[/<tag>]         delete a tag, or an image with all its tags
// Every image named is authorized before anything about it is looked up.
#include <nlohmann/json.hpp>

#include "api/handlers.h"
#include "berth/core/reference.h"
#include "core/json_input.h"
#include "ops/lifecycle.h"

namespace berth::api {
namespace {

using nlohmann::json;
using auth::Action;

Result<ops::Promotion> readPromotion(Context& c) {
  auto raw = c.ex.readBody(64 * 1024, Error{ErrorCode::BadRequest, "request body too large", {}});
  if (!raw) return tl::unexpected(raw.error());
  auto body = json_input::parse(*raw, ErrorCode::BadRequest);
  if (!body) return tl::unexpected(body.error());
  json_input::Fields f(*body, ErrorCode::BadRequest);
  ops::Promotion p;
  p.source_repo = c.route.repo_key;
  auto target_repo = f.string("targetRepo");
  auto image = f.string("dockerRepository");
  p.target_image = f.string("targetDockerRepository").value_or("");
  p.tag = f.string("tag");
  p.target_tag = f.string("targetTag").value_or("");
  p.copy = f.boolean("copy").value_or(false);
  if (auto st = f.status(); !st) return tl::unexpected(st.error());
  if (!target_repo || target_repo->empty()) return fail(ErrorCode::BadRequest, "targetRepo is required");
  if (!image || image->empty()) return fail(ErrorCode::BadRequest, "dockerRepository is required");
  p.target_repo = *target_repo;
  p.image = *image;
  if (p.target_image.empty()) p.target_image = p.image;
  if (p.tag && p.tag->empty()) p.tag.reset();
  if (!p.tag && !p.target_tag.empty())
    return fail(ErrorCode::BadRequest, "targetTag needs tag: a whole image keeps its tags");
  for (const std::string* name : {&p.image, &p.target_image})
    if (!isValidImageName(*name)) return fail(ErrorCode::NameInvalid, "invalid repository name", name->substr(0, 300));
  if (p.tag && !isValidTag(*p.tag)) return fail(ErrorCode::TagInvalid, "invalid tag", p.tag->substr(0, 300));
  if (!p.target_tag.empty() && !isValidTag(p.target_tag))
    return fail(ErrorCode::TagInvalid, "invalid tag", p.target_tag.substr(0, 300));
  return p;
}

json resultJson(const ops::Promotion& p, const storage::PromoteOutcome& out) {
  json tags = json::array();
  for (const auto& [tag, digest] : out.tags) tags.push_back({{"tag", tag}, {"digest", digest.str()}});
  std::string what = p.image + (p.tag ? ":" + *p.tag : std::string(" (every tag)"));
  return {{"sourceRepo", p.source_repo},
          {"targetRepo", p.target_repo},
          {"dockerRepository", p.image},
          {"targetDockerRepository", p.target_image},
          {"copy", p.copy},
          {"tags", std::move(tags)},
          {"overwrittenTags", out.overwritten},
          {"removedTags", out.evicted},
          {"manifests", out.manifests},
          {"blobs", out.blobs},
          {"messages", json::array({{{"level", "INFO"},
                                     {"message", std::string(p.copy ? "copied " : "moved ") + what + " from " +
                                                     p.source_repo + " to " + p.target_repo + "/" +
                                                     p.target_image}}})}};
}

}  // namespace

Status handlePromote(Context& c, ops::Lifecycle& life) {
  if (c.req().method != "POST") return unsupported(c);
  auto p = readPromotion(c);
  if (!p) return tl::unexpected(p.error());
  if (auto st = c.authorize({p->source_repo, p->image, Action::Read}); !st) return st;
  if (auto st = c.authorize({p->target_repo, p->target_image, Action::Deploy}); !st) return st;
  if (!p->copy)
    if (auto st = c.authorize({p->source_repo, p->image, Action::Delete}); !st) return st;
  auto out = life.promote(*p, false);
  if (!out) return tl::unexpected(out.error());
  if (out->status == storage::PromoteStatus::OverwriteRefused) {
    // Repointing a tag loses what it named: delete on the target, asked only when it happens.
    if (auto st = c.authorize({p->target_repo, p->target_image, Action::Delete}); !st) return st;
    out = life.promote(*p, true);
    if (!out) return tl::unexpected(out.error());
  }
  c.ex.respond(jsonResponse(200, resultJson(*p, *out).dump(2)));
  return {};
}

Status handleRepoPath(Context& c, ops::Lifecycle& life) {
  if (c.req().method != "DELETE") return unsupported(c);
  std::string path = c.route.tail;
  if (path.ends_with("/")) path.pop_back();  // a folder, as Artifactory writes it
  if (path.empty())
    return fail(ErrorCode::BadRequest, "name an image or a tag: a whole repository is not deleted through this route",
                c.route.repo_key);
  // The path is a folder of the repository's tree: the tag folder
  // <image>/<tag>, or the image folder <image>, or both at once (tag "c" of
  // "a/b" and image "a/b/c" are one folder in Artifactory): all of it goes.
  struct Candidate {
    std::string image, tag;  // tag empty: the whole image
    bool exists = false;
  };
  std::vector<Candidate> candidates;
  if (auto slash = path.rfind('/'); slash != std::string::npos) {
    std::string image = path.substr(0, slash), tag = path.substr(slash + 1);
    if (isValidImageName(image) && isValidTag(tag)) candidates.push_back({image, tag});
  }
  if (isValidImageName(path)) candidates.push_back({path, {}});
  if (candidates.empty()) return fail(ErrorCode::NameInvalid, "not an image or a tag of an image", path.substr(0, 300));
  auto key = life.deletionTarget(c.route.repo_key);
  if (!key) return tl::unexpected(key.error());
  std::optional<Error> refused;
  bool found = false;
  for (auto& cand : candidates) {
    // Permission first: whether a path exists is not told to who may not delete it.
    if (auto st = c.authorize({c.route.repo_key, cand.image, Action::Delete}); !st) {
      if (!refused) refused = st.error();
      continue;
    }
    auto exists = cand.tag.empty() ? life.imageExists(*key, cand.image) : life.tagExists(*key, cand.image, cand.tag);
    if (!exists) return tl::unexpected(exists.error());
    cand.exists = *exists;
    found = found || cand.exists;
  }
  if (!found) {
    if (refused) return tl::unexpected(*refused);
    return fail(ErrorCode::NotFound, "no image or tag '" + path + "' in repository '" + c.route.repo_key + "'", path);
  }
  bool removed = false;
  for (const auto& cand : candidates) {
    if (!cand.exists) continue;
    auto r = cand.tag.empty() ? life.deleteImage(*key, cand.image) : life.deleteTag(*key, cand.image, cand.tag);
    if (!r) return tl::unexpected(r.error());
    removed = removed || *r;
  }
  // Gone meanwhile (another delete won the race): as if it had never been.
  if (!removed)
    return fail(ErrorCode::NotFound, "no image or tag '" + path + "' in repository '" + c.route.repo_key + "'", path);
  http::HttpResponse res;
  res.status = 204;
  c.ex.respond(std::move(res));
  return {};
}

}  // namespace berth::api
