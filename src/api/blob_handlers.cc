// GET/HEAD/DELETE /<image>/blobs/<digest>, with single byte ranges.
#include <optional>

#include "api/handlers.h"

namespace berth::api {
namespace {

struct ByteRange {
  uint64_t first, last;  // inclusive
};

// "bytes=a-b", "bytes=a-", "bytes=-n" against `size`. nullopt: not satisfiable.
std::optional<ByteRange> parseRange(std::string_view h, uint64_t size) {
  if (!h.starts_with("bytes=") || h.find(',') != std::string_view::npos) return std::nullopt;
  h.remove_prefix(6);
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto num = [](std::string_view s) -> std::optional<uint64_t> {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    return std::stoull(std::string(s));
  };
  auto a = h.substr(0, dash), b = h.substr(dash + 1);
  if (a.empty()) {  // suffix: the last n bytes
    auto n = num(b);
    if (!n || *n == 0 || size == 0) return std::nullopt;
    uint64_t len = std::min(*n, size);
    return ByteRange{size - len, size - 1};
  }
  auto first = num(a);
  if (!first || *first >= size) return std::nullopt;
  uint64_t last = size - 1;
  if (!b.empty()) {
    auto l = num(b);
    if (!l || *l < *first) return std::nullopt;
    last = std::min(*l, size - 1);
  }
  return ByteRange{*first, last};
}

}  // namespace

Status handleBlob(Context& c) {
  const auto& m = c.req().method;
  auto digest = Digest::parse(c.route.tail);
  if (!digest) return tl::unexpected(digest.error());
  if (m == "DELETE") {
    if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Delete}); !st) return st;
    if (auto st = c.repo->deleteBlob(c.route.image, *digest); !st) return st;
    http::HttpResponse res;
    res.status = 202;
    res.set("Docker-Content-Digest", digest->str());
    c.ex.respond(std::move(res));
    return {};
  }
  if (m != "GET" && m != "HEAD") return unsupported(c);
  if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Read}); !st) return st;
  auto reader = c.repo->openBlob(c.route.image, *digest);
  if (!reader) return tl::unexpected(reader.error());
  uint64_t size = (*reader)->size();
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
    length = r->last - r->first + 1;
    res.set("Content-Range", "bytes " + std::to_string(r->first) + "-" + std::to_string(r->last) + "/" +
                                 std::to_string(size));
  }
  c.ex.respondFile(std::move(res), (*reader)->fd(), offset, length);
  return {};
}

}  // namespace berth::api
