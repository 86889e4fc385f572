// GET/HEAD/PUT/DELETE /<image>/manifests/<reference>.
#include "api/handlers.h"

namespace berth::api {

Status handleManifest(Context& c) {
  const auto& m = c.req().method;
  auto ref = parseReference(c.route.tail);
  if (!ref) return tl::unexpected(ref.error());
  if (m == "GET" || m == "HEAD") {
    if (auto st = c.access.authorize(c.req(), {c.route.repo_key, c.route.image, auth::Action::Read}); !st) return st;
    auto man = c.repo->getManifest(c.route.image, *ref);
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
    // Overwriting an existing tag needs delete as well as deploy (issue 3 grants it).
    if (auto st = c.access.authorize(c.req(), {c.route.repo_key, c.route.image, auth::Action::Deploy}); !st) return st;
    auto body = c.ex.readBody(repo::kMaxManifestBytes,
                              Error{ErrorCode::ManifestInvalid, "manifest too large",
                                    "the limit is " + std::to_string(repo::kMaxManifestBytes) + " bytes"});
    if (!body) return tl::unexpected(body.error());
    auto put = c.repo->putManifest(c.route.image, *ref, std::string(c.req().header("content-type")), *body);
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
    if (auto st = c.access.authorize(c.req(), {c.route.repo_key, c.route.image, auth::Action::Delete}); !st) return st;
    if (auto st = c.repo->deleteManifest(c.route.image, *ref); !st) return st;
    http::HttpResponse res;
    res.status = 202;
    c.ex.respond(std::move(res));
    return {};
  }
  return unsupported(c);
}

}  // namespace berth::api
