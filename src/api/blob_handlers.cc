// GET/HEAD/DELETE /<image>/blobs/<digest>, with single byte ranges.
#include "api/byte_ranges.h"
#include "api/handlers.h"

namespace berth::api {

Status handleBlob(Context& c) {
  const auto& m = c.req().method;
  auto digest = Digest::parse(c.route.tail);
  if (!digest) return tl::unexpected(digest.error());
  if (m == "DELETE") {
    if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Delete}); !st) return st;
    if (auto st = c.repo->deleteBlob(c.call(), c.route.image, *digest); !st) return st;
    http::HttpResponse res;
    res.status = 202;
    res.set("Docker-Content-Digest", digest->str());
    c.ex.respond(std::move(res));
    return {};
  }
  if (m != "GET" && m != "HEAD") return unsupported(c);
  if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Read}); !st) return st;
  // HEAD asks only for the size: a remote repository answers it without
  // downloading the blob.
  storage::BlobReaderPtr reader;
  uint64_t size = 0;
  if (m == "HEAD") {
    auto info = c.repo->statBlob(c.call(), c.route.image, *digest);
    if (!info) return tl::unexpected(info.error());
    size = info->size;
  } else {
    auto opened = c.repo->openBlob(c.call(), c.route.image, *digest);
    if (!opened) return tl::unexpected(opened.error());
    reader = std::move(*opened);
    size = reader->size();
  }
  http::HttpResponse res;
  res.set("Content-Type", "application/octet-stream");
  res.set("Docker-Content-Digest", digest->str());
  res.set("ETag", "\"" + digest->str() + "\"");
  res.set("Accept-Ranges", "bytes");
  res.set("Cache-Control", "max-age=31536000");
  uint64_t offset = 0, length = size;
  if (auto range = c.req().header("range"); !range.empty()) {
    auto r = parseRange(range, size);
    if (!r) {
      auto err = errorResponse(Error{ErrorCode::RangeInvalid, "requested range not satisfiable", std::string(range)});
      err.set("Content-Range", "bytes */" + std::to_string(size));
      c.ex.respond(std::move(err));
      return {};
    }
    res.status = 206;
    offset = r->first;
    length = r->length();
    res.set("Content-Range", "bytes " + std::to_string(r->first) + "-" + std::to_string(r->last) + "/" +
                                 std::to_string(size));
  }
  if (!reader) {
    res.set("Content-Length", std::to_string(length));
    c.ex.respond(std::move(res));
    return {};
  }
  c.ex.respondFile(std::move(res), reader->fd(), offset, length, reader->ready());
  return {};
}

}  // namespace berth::api
