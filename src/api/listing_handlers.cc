// GET /v2/, catalogs, tags/list and referrers.
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "api/handlers.h"
#include "berth/auth/principal.h"
#include "berth/core/media_types.h"

namespace berth::api {
namespace {
constexpr std::size_t kMaxPage = 100000;
constexpr std::size_t kDefaultCatalogPage = 10000;

Status onlyGet(const Context& c) {
  if (c.req().method != "GET" && c.req().method != "HEAD") return unsupported(c);
  return {};
}

// `s` as a JSON string. Names and tags of the spec's grammar need no
// escaping: those are copied as they are (a list of 10,000 tags is built in
// a tenth of the time nlohmann takes to make and dump 10,000 values).
void appendJsonString(std::string& out, const std::string& s) {
  bool plain = std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-' || ch == '/' || ch == ':';
  });
  if (!plain) {
    out += nlohmann::json(s).dump();
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

void respondPage(Context& c, const std::string& body, const storage::Page& page, std::size_t n,
                 const std::string& url, const std::string& last_item) {
  auto res = jsonResponse(200, body);
  if (page.more && n > 0) res.set("Link", nextLink(url, n, last_item));
  c.ex.respond(std::move(res));
}
}  // namespace

Status handleBase(Context& c) {
  if (auto st = onlyGet(c); !st) return st;
  // With security on, the version check always challenges a caller without
  // credentials, as Docker Hub does: clients learn the token realm here and
  // fetch a token (an anonymous one, too) before anything else. Answering 200
  // to anonymous callers would make containers/image and dockerd send no
  // credentials later, so they could not push (docs/security.md).
  if (c.access.enforcing()) {
    const auto& p = c.who();
    if (!p) return tl::unexpected(p.error());
    // An anonymous Bearer token (from the token endpoint) has done the handshake.
    if (p->anonymous() && !p->bearer_access)
      return fail(ErrorCode::Unauthorized, "authentication required", R"([{"Type":"registry","Name":"","Action":"login"}])");
  }
  if (auto st = c.authorize({c.route.repo_key, {}, auth::Action::Read}); !st) return st;
  // Only after the check: an unknown key answers as one the caller may not read.
  if (!c.route.repo_key.empty() && !c.repo)
    return fail(ErrorCode::NameUnknown, "repository key not known to registry", c.route.repo_key);
  c.ex.respond(jsonResponse(200, "{}"));
  return {};
}

Status handleCatalog(Context& c) {
  if (auto st = onlyGet(c); !st) return st;
  if (auto st = c.authorize({{}, {}, auth::Action::Read, /*catalog=*/true}); !st) return st;
  const auto& who = c.who();
  if (!who) return tl::unexpected(who.error());
  auto pr = pageRequest(c.req(), kDefaultCatalogPage);
  if (!pr) return tl::unexpected(pr.error());
  std::size_t n = std::min(pr->n, kMaxPage);
  // Names are "<key>/<image>": walk the repositories in key order.
  std::vector<repo::Repository*> repos;
  for (const auto& r : c.registry.all()) repos.push_back(r.get());
  std::sort(repos.begin(), repos.end(), [](auto* a, auto* b) { return a->key() + "/" < b->key() + "/"; });
  // Collect one name more than asked: its presence says a next page exists.
  std::vector<std::string> names;
  for (auto* r : repos) {
    if (names.size() > n) break;
    std::string prefix = r->key() + "/";
    std::string last;
    if (!pr->last.empty()) {
      if (pr->last.starts_with(prefix)) last = pr->last.substr(prefix.size());
      else if (prefix < pr->last) continue;  // this repository comes before the cursor
    }
    while (names.size() <= n) {
      auto page = r->listImages(c.call(), last, std::min<std::size_t>(n + 1 - names.size(), 1000));
      if (!page) return tl::unexpected(page.error());
      for (const auto& image : page->items) {
        last = image;
        if (c.access.mayList(*who, r->key(), image)) names.push_back(prefix + image);
      }
      if (!page->more) break;
    }
  }
  storage::Page out;
  if (names.size() > n) {
    names.resize(n);
    out.more = n > 0;
  }
  std::string last_item = names.empty() ? std::string() : names.back();
  respondPage(c, nlohmann::json{{"repositories", names}}.dump(), out, n, "/v2/_catalog", last_item);
  return {};
}

Status handleRepoCatalog(Context& c) {
  if (auto st = onlyGet(c); !st) return st;
  if (auto st = c.authorize({c.route.repo_key, {}, auth::Action::Read, /*catalog=*/true}); !st) return st;
  const auto& who = c.who();
  if (!who) return tl::unexpected(who.error());
  auto pr = pageRequest(c.req(), kDefaultCatalogPage);
  if (!pr) return tl::unexpected(pr.error());
  std::size_t n = std::min(pr->n, kMaxPage);
  // The Link cursor is the last name listed, never one filtered out (that
  // would tell the caller a name it may not see); a page filtered empty is
  // followed by the next one here, so an empty page never says "more".
  nlohmann::json names = nlohmann::json::array();
  std::string cursor = pr->last, last_listed;
  storage::Page page;
  do {
    auto next = c.repo->listImages(c.call(), cursor, n);
    if (!next) return tl::unexpected(next.error());
    page = std::move(*next);
    for (const auto& image : page.items)
      if (c.access.mayList(*who, c.repo->key(), image)) {
        names.push_back(image);
        last_listed = image;
      }
    if (page.items.empty()) break;
    cursor = page.items.back();
  } while (names.empty() && page.more && n > 0);
  if (names.empty()) page.more = false;
  respondPage(c, nlohmann::json{{"repositories", std::move(names)}}.dump(), page, n, c.route.base + "/_catalog",
              last_listed);
  return {};
}

Status handleTags(Context& c) {
  if (auto st = onlyGet(c); !st) return st;
  if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Read}); !st) return st;
  auto pr = pageRequest(c.req(), kMaxPage);
  if (!pr) return tl::unexpected(pr.error());
  std::size_t n = std::min(pr->n, kMaxPage);
  auto page = c.repo->listTags(c.call(), c.route.image, pr->last, n);
  if (!page) return tl::unexpected(page.error());
  std::string last = page->items.empty() ? std::string() : page->items.back();
  std::string body = "{\"name\":";
  body.reserve(64 + page->items.size() * 16);
  appendJsonString(body, c.route.clientName());
  body += ",\"tags\":[";
  for (std::size_t i = 0; i < page->items.size(); ++i) {
    if (i > 0) body += ',';
    appendJsonString(body, page->items[i]);
  }
  body += "]}";
  respondPage(c, body, *page, n, c.route.imageUrl() + "/tags/list", last);
  return {};
}

Status handleReferrers(Context& c) {
  if (auto st = onlyGet(c); !st) return st;
  if (auto st = c.authorize({c.route.repo_key, c.route.image, auth::Action::Read}); !st) return st;
  auto digest = Digest::parse(c.route.tail);
  if (!digest) return tl::unexpected(digest.error());
  auto result = c.repo->referrers(c.call(), c.route.image, *digest, c.req().queryValue("artifactType"));
  if (!result) return tl::unexpected(result.error());
  http::HttpResponse res;
  res.set("Content-Type", std::string(media::kOciIndex));
  if (result->filtered) res.set("OCI-Filters-Applied", "artifactType");
  res.body = std::move(result->index_json);
  c.ex.respond(std::move(res));
  return {};
}

}  // namespace berth::api
