// GET/HEAD/PUT/DELETE /<image>/manifests/<reference>.
#include "api/handlers.h"
#include "berth/core/sha256.h"

namespace berth::api {

Status handleManifest(Context& c) {
  const auto& m = c.req().method;
  auto ref = parseReference(c.route.tail);
  // Nothing can exist under a reference that is neither a tag nor a digest:
  // reads and deletes of one find nothing (404, as registry:2 and the OCI
  // conformance tests expect); only a PUT is told its reference is invalid.
  bool lookup = m == "GET" || m == "HEAD" || m == "DELETE";
  if (!ref && !lookup) return tl::unexpected(ref.error());
  if (!ref) {
    auto action = m == "DELETE" ? auth::Action::Delete : auth::Action::Read;
    if (auto st = c.authorize({c.route.repo_key, c.route.image, action}); !st) return st;
    return fail(ErrorCode::ManifestUnknown, "manifest unknown to registry", ref.error().message);
  }
  if (m == "GET" || m == "HEAD") {
    if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Read}); !st) return st;
    auto man = c.repo->getManifest(c.call(), c.route.image, *ref);
    if (!man) return tl::unexpected(man.error());
    http::HttpResponse res;
    res.set("Content-Type", man->media_type);
    res.set("Docker-Content-Digest", man->digest.str());
    res.set("ETag", "\"" + man->digest.str() + "\"");
    res.body = std::move(man->bytes);
    c.ex.respond(std::move(res));
    return {};
  }
  if (m == "PUT") {
    if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Deploy}); !st) return st;
    auto body = c.ex.readBody(repo::kMaxManifestBytes,
                              Error{ErrorCode::ManifestInvalid, "manifest too large",
                                    "the limit is " + std::to_string(repo::kMaxManifestBytes) + " bytes"});
    if (!body) return tl::unexpected(body.error());
    // Moving an existing tag to other content is an overwrite: it needs delete
    // too. The tag is looked up where the write lands (a virtual repository's
    // deployment repository), never in what a read through the key would see.
    if (auto* target = c.repo->writeTarget(); target && !ref->isDigest()) {
      auto current = target->resolveTag(c.call(), c.route.image, ref->tag);
      if (!current) return tl::unexpected(current.error());
      if (*current && **current != Sha256::of(*body))
        if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Delete}); !st)
          return st;
    }
    auto put = c.repo->putManifest(c.call(), c.route.image, *ref, std::string(c.req().header("content-type")), *body);
    if (!put) return tl::unexpected(put.error());
    http::HttpResponse res;
    res.status = 201;
    res.set("Location", c.route.imageUrl() + "/manifests/" + put->digest.str());
    res.set("Docker-Content-Digest", put->digest.str());
    if (!put->subject.empty()) res.set("OCI-Subject", put->subject);
    c.ex.respond(std::move(res));
    return {};
  }
  if (m == "DELETE") {
    if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Delete}); !st) return st;
    if (auto st = c.repo->deleteManifest(c.call(), c.route.image, *ref); !st) return st;
    http::HttpResponse res;
    res.status = 202;
    c.ex.respond(std::move(res));
    return {};
  }
  return unsupported(c);
}

}  // namespace berth::api
