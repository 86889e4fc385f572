// Blob uploads: POST (session, monolithic, cross-repository mount), PATCH,
// PUT, GET (status) and DELETE of /<image>/blobs/uploads/<id>.
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

// Content-Range "<start>-<end>" of a PATCH must continue where the upload is.
Status checkContentRange(const Context& c, const repo::UploadSession& s) {
  std::string_view cr = c.req().header("content-range");
  if (cr.empty()) return {};
  if (cr.starts_with("bytes ")) cr.remove_prefix(6);
  auto dash = cr.find('-');
  std::string first(cr.substr(0, dash));
  if (dash == std::string_view::npos || first.empty() || first.find_first_not_of("0123456789") != std::string::npos ||
      std::stoull(first) != s.offset())
    return fail(ErrorCode::RangeInvalid, "chunk out of order",
                "upload is at offset " + std::to_string(s.offset()) + ", Content-Range is " + std::string(cr));
  return {};
}

Status tryMount(Context& c, bool& mounted) {
  mounted = false;
  auto digest = Digest::parse(c.req().queryValue("mount"));
  std::string from = c.req().queryValue("from");
  auto slash = from.find('/');
  if (!digest || slash == std::string::npos) return {};  // not mountable: plain session
  std::string from_key = from.substr(0, slash), from_image = from.substr(slash + 1);
  // Under the Artifactory routes `from` may also name an image of the same repository.
  repo::Repository* source = c.registry.find(from_key);
  if (!source || !isValidImageName(from_image)) {
    if (!c.route.base.starts_with("/v2/") && isValidImageName(from)) {
      source = c.repo;
      from_image = from;
    } else {
      return {};
    }
  }
  // Mounting reads the source: the caller must be allowed to.
  if (!c.access.authorize(c.req(), {source->key(), from_image, auth::Action::Read})) return {};
  auto ok = c.repo->mountBlob(c.route.image, *digest, *source, from_image);
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
  if (auto st = c.access.authorize(c.req(), {c.route.repo_key, c.route.image, auth::Action::Deploy}); !st) return st;
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
  auto session = c.repo->startUpload(c.route.image);
  if (!session) return tl::unexpected(session.error());
  auto& s = **session;
  auto lock = s.lock();
  if (digest) {  // monolithic upload: the body is the blob
    if (auto st = appendBody(c, s); !st) {
      (void)c.repo->cancelUpload(*session);
      return st;
    }
    if (auto st = c.repo->commitUpload(*session, *digest); !st) return st;
    lock.unlock();
    respondCreated(c, *digest);
    return {};
  }
  if (c.req().has_body) {  // a body without a digest: accept it as the first chunk
    if (auto st = appendBody(c, s); !st) return st;
  }
  auto res = uploadProgress(c, 202, s);
  lock.unlock();
  c.ex.respond(std::move(res));
  return {};
}

Status handleUpload(Context& c) {
  const auto& m = c.req().method;
  if (m != "GET" && m != "PATCH" && m != "PUT" && m != "DELETE") return unsupported(c);
  if (auto st = c.access.authorize(c.req(), {c.route.repo_key, c.route.image, auth::Action::Deploy}); !st) return st;
  auto session = c.repo->findUpload(c.route.image, c.route.tail);
  if (!session) return tl::unexpected(session.error());
  auto& s = **session;
  auto lock = s.lock();
  if (!lock.owns_lock())
    return fail(ErrorCode::BlobUploadInvalid, "another request is writing to this upload", s.uuid());
  if (m == "GET" || m == "PATCH") {
    if (m == "PATCH") {
      if (auto st = checkContentRange(c, s); !st) return st;
      if (auto st = appendBody(c, s); !st) return st;
    }
    auto res = uploadProgress(c, m == "GET" ? 204 : 202, s);
    lock.unlock();
    c.ex.respond(std::move(res));
    return {};
  }
  if (m == "DELETE") {
    if (auto st = c.repo->cancelUpload(*session); !st) return st;
    lock.unlock();
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
  if (auto st = c.repo->commitUpload(*session, *digest); !st) return st;
  lock.unlock();
  respondCreated(c, *digest);
  return {};
}

}  // namespace berth::api
