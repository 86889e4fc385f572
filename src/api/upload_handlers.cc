// Blob uploads: POST (session, monolithic, cross-repository mount), PATCH,
// PUT, GET (status) and DELETE of /<image>/blobs/uploads/<id>.
#include <optional>

#include "api/byte_ranges.h"
#include "api/handlers.h"

namespace berth::api {
namespace {

std::string uploadUrl(const Context& c, const std::string& uuid) {
  return c.route.imageUrl() + "/blobs/uploads/" + uuid;
}

// "0-<offset-1>" as registry:2 writes it ("0-0" when empty).
std::string rangeHeader(uint64_t offset) { return "0-" + std::to_string(offset == 0 ? 0 : offset - 1); }

http::HttpResponse uploadProgress(const Context& c, int status, const repo::UploadSession& s) {
  http::HttpResponse res;
  res.status = status;
  res.set("Location", uploadUrl(c, s.uuid()));
  res.set("Docker-Upload-UUID", s.uuid());
  res.set("Range", rangeHeader(s.offset()));
  return res;
}

void respondCreated(const Context& c, const Digest& d) {
  http::HttpResponse res;
  res.status = 201;
  res.set("Location", c.route.imageUrl() + "/blobs/" + d.str());
  res.set("Docker-Content-Digest", d.str());
  c.ex.respond(std::move(res));
}

// Streams the request body into the session.
Status appendBody(Context& c, repo::UploadSession& s) {
  auto n = c.ex.streamBody([&](const char* data, std::size_t size) { return s.append(data, size); });
  if (!n) return tl::unexpected(n.error());
  if (auto len = c.ex.contentLength(); len && *len != *n)
    return fail(ErrorCode::SizeInvalid, "provided length did not match content length");
  return {};
}

// Content-Range "<start>-<end>" of a PATCH must continue where the upload is
// and span exactly the body's Content-Length.
Status checkContentRange(const Context& c, const repo::UploadSession& s) {
  std::string_view cr = c.req().header("content-range");
  if (cr.empty()) return {};
  auto range = parseContentRange(cr);
  std::string detail = "upload is at offset " + std::to_string(s.offset()) + ", Content-Range is " + std::string(cr);
  if (!range) return fail(ErrorCode::RangeInvalid, "malformed Content-Range", detail);
  if (range->first != s.offset()) return fail(ErrorCode::RangeInvalid, "chunk out of order", detail);
  if (auto len = c.ex.contentLength(); len && *len != range->length())
    return fail(ErrorCode::RangeInvalid, "Content-Range does not match Content-Length", detail);
  return {};
}

Status tryMount(Context& c, bool& mounted) {
  mounted = false;
  auto digest = Digest::parse(c.req().queryValue("mount"));
  if (!digest) return {};  // not mountable: plain session
  std::string from = c.req().queryValue("from");
  auto slash = from.find('/');
  repo::Repository* source = nullptr;
  std::string from_image;
  if (slash != std::string::npos) {
    source = c.registry.find(from.substr(0, slash));
    from_image = from.substr(slash + 1);
  }
  // Under the Artifactory routes `from` may also name an image of the same repository.
  if ((!source || !isValidImageName(from_image)) && !c.route.base.starts_with("/v2/")) {
    source = c.repo;
    from_image = from;
  }
  if (!source || !isValidImageName(from_image)) return {};
  // Mounting reads the source: the caller must be allowed to.
  if (!c.authorize({source->key(), from_image, auth::Action::Read})) return {};
  auto ok = c.repo->mountBlob(c.call(), c.route.image, *digest, *source, from_image);
  if (!ok) return tl::unexpected(ok.error());
  if (*ok) {
    mounted = true;
    respondCreated(c, *digest);
  }
  return {};
}

}  // namespace

Status handleUploadStart(Context& c) {
  if (c.req().method != "POST") return unsupported(c);
  if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Deploy}); !st) return st;
  if (c.req().hasQuery("mount")) {
    bool mounted = false;
    if (auto st = tryMount(c, mounted); !st || mounted) return st;
  }
  std::optional<Digest> digest;
  if (c.req().hasQuery("digest")) {
    auto d = Digest::parse(c.req().queryValue("digest"));
    if (!d) return tl::unexpected(d.error());
    digest = *d;
  }
  // Sessions are capped per user: authorize() has identified the caller.
  const auto& who = c.who();
  std::string user = who ? who->name : std::string(auth::kAnonymous);
  // A monolithic upload's id is never given out: it needs no session row, so
  // a crash leaves only a file that the next start removes.
  auto session = c.repo->startUpload(c.call(), c.route.image, user, /*resumable=*/!digest);
  if (!session) return tl::unexpected(session.error());
  auto& s = **session;
  auto lock = s.acquire();
  if (!lock) return tl::unexpected(lock.error());
  if (digest) {  // monolithic upload: the body is the blob
    if (auto st = appendBody(c, s); !st) {
      (void)c.repo->cancelUpload(c.call(), *session);
      return st;
    }
    if (auto st = c.repo->commitUpload(c.call(), *session, *digest); !st) return st;
    lock->unlock();
    respondCreated(c, *digest);
    return {};
  }
  if (c.req().has_body) {  // a body without a digest: accept it as the first chunk
    if (auto st = appendBody(c, s); !st) return st;
  }
  auto res = uploadProgress(c, 202, s);
  lock->unlock();
  c.ex.respond(std::move(res));
  return {};
}

Status handleUpload(Context& c) {
  const auto& m = c.req().method;
  if (m != "GET" && m != "PATCH" && m != "PUT" && m != "DELETE") return unsupported(c);
  if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Deploy}); !st) return st;
  auto session = c.repo->findUpload(c.call(), c.route.image, c.route.tail);
  if (!session) return tl::unexpected(session.error());
  auto& s = **session;
  // BLOB_UPLOAD_UNKNOWN when it ended (committed, cancelled, purged) while we waited.
  auto lock = s.acquire([&c](std::chrono::milliseconds d) { c.ex.pause(d); });
  if (!lock) return tl::unexpected(lock.error());
  if (m == "GET" || m == "PATCH") {
    if (m == "PATCH") {
      if (auto st = checkContentRange(c, s); !st) return st;
      if (auto st = appendBody(c, s); !st) return st;
    }
    auto res = uploadProgress(c, m == "GET" ? 204 : 202, s);
    lock->unlock();
    c.ex.respond(std::move(res));
    return {};
  }
  if (m == "DELETE") {
    if (auto st = c.repo->cancelUpload(c.call(), *session); !st) return st;
    lock->unlock();
    http::HttpResponse res;
    res.status = 204;
    c.ex.respond(std::move(res));
    return {};
  }
  // PUT ?digest=, with an optional last chunk.
  if (!c.req().hasQuery("digest")) return fail(ErrorCode::DigestInvalid, "digest parameter is required");
  auto digest = Digest::parse(c.req().queryValue("digest"));
  if (!digest) return tl::unexpected(digest.error());
  if (c.req().has_body) {
    if (auto st = checkContentRange(c, s); !st) return st;
    if (auto st = appendBody(c, s); !st) return st;
  }
  if (auto st = c.repo->commitUpload(c.call(), *session, *digest); !st) return st;
  lock->unlock();
  respondCreated(c, *digest);
  return {};
}

}  // namespace berth::api
