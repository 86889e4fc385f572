#include "integration/support/scripted_upstream.h"

#include <atomic>
#include <cstring>
#include <optional>
#include <nlohmann/json.hpp>

#include "integration/support/pki.h"

namespace berth::it {
namespace {

const Headers kApiVersion{{"Docker-Distribution-Api-Version", "registry/2.0"}};

std::string errorBody(const std::string& code, const std::string& message) {
  return nlohmann::json{{"errors", {{{"code", code}, {"message", message}}}}}.dump();
}

void replyError(ServerExchange& ex, int status, const std::string& code, const std::string& message) {
  Headers h = kApiVersion;
  h.add("Content-Type", "application/json");
  ex.reply(status, errorBody(code, message), std::move(h));
}

// "/v2/<name>/<kind>/<rest>" -> {name, kind, rest}; kind "" when it is none of ours.
struct ApiPath {
  std::string name, kind, rest;
};
ApiPath splitApiPath(const std::string& path) {
  if (!path.starts_with("/v2/")) return {};
  for (const char* kind : {"/manifests/", "/blobs/", "/tags/"}) {
    auto at = path.rfind(kind);
    if (at != std::string::npos && at > 4)
      return {path.substr(4, at - 4), std::string(kind).substr(1, std::strlen(kind) - 2),
              path.substr(at + std::strlen(kind))};
  }
  return {};
}

// A "bytes=a-b" / "bytes=a-" header against size: {first, last}; nullopt for none or unsatisfiable.
std::optional<std::pair<uint64_t, uint64_t>> parseRange(const std::string& h, uint64_t size) {
  if (!h.starts_with("bytes=") || h.find(',') != std::string::npos) return std::nullopt;
  auto dash = h.find('-');
  if (dash == std::string::npos || dash == 6) return std::nullopt;
  uint64_t first = std::stoull(h.substr(6, dash - 6));
  uint64_t last = dash + 1 < h.size() ? std::stoull(h.substr(dash + 1)) : size - 1;
  if (first >= size || last < first) return std::nullopt;
  return std::make_pair(first, std::min(last, size - 1));
}

}  // namespace

ScriptedUpstream::ScriptedUpstream(const std::string& address, bool listening)
    : server_(std::make_unique<HttpServer>([this](ServerExchange& ex) { handle(ex); }, address, listening)) {}

ScriptedUpstream::~ScriptedUpstream() { server_->stop(); }

// ---- content ----

void ScriptedUpstream::addBlob(const std::string& name, std::string bytes) {
  std::string digest = sha256Of(bytes);
  addBlobAs(name, digest, std::move(bytes));
}

void ScriptedUpstream::addBlobAs(const std::string& name, const std::string& digest, std::string bytes) {
  std::lock_guard lock(mu_);
  blobs_[name + "@" + digest] = Stored{std::make_shared<const std::string>(std::move(bytes)), nullptr};
}

void ScriptedUpstream::addGeneratedBlob(const std::string& name, std::shared_ptr<const GeneratedBlob> blob) {
  std::string key = name + "@" + blob->digest();
  std::lock_guard lock(mu_);
  blobs_[key] = Stored{nullptr, std::move(blob)};
}

void ScriptedUpstream::addManifest(const std::string& name, const Manifest& m, const std::string& tag) {
  std::lock_guard lock(mu_);
  manifests_[name + "@" + m.digest] = m;
  if (!tag.empty()) tags_[name][tag] = m.digest;
}

void ScriptedUpstream::addImage(const std::string& name, const Image& img, const std::string& tag) {
  addBlob(name, img.config.bytes);
  for (const auto& l : img.layers) addBlob(name, l.bytes);
  addManifest(name, img.manifest, tag);
}

void ScriptedUpstream::addMultiArch(const std::string& name, const MultiArch& m, const std::string& tag) {
  for (const auto& img : m.images) addImage(name, img);
  addManifest(name, m.index, tag);
}

void ScriptedUpstream::removeTag(const std::string& name, const std::string& tag) {
  std::lock_guard lock(mu_);
  tags_[name].erase(tag);
}

// ---- routes and auth ----

void ScriptedUpstream::on(const std::string& method, const std::string& path, Handler handler) {
  std::lock_guard lock(mu_);
  routes_.push_back({method, path, std::move(handler)});
}

void ScriptedUpstream::clearRoutes() {
  std::lock_guard lock(mu_);
  routes_.clear();
}

Handler ScriptedUpstream::content() {
  return [this](ServerExchange& ex) { serveContent(ex); };
}

void ScriptedUpstream::requireBearer(const std::string& realm, const std::string& service,
                                     std::function<bool(const std::string&)> accepts) {
  std::lock_guard lock(mu_);
  challenge_scheme_ = "Bearer";
  challenge_realm_ = realm;
  challenge_service_ = service;
  auth_ = [accepts = std::move(accepts)](const ServerRequest& req) {
    std::string h = req.headers.get("Authorization");
    return h.starts_with("Bearer ") && accepts(h.substr(7));
  };
}

void ScriptedUpstream::requireBasic(const std::string& user, const std::string& password) {
  std::lock_guard lock(mu_);
  challenge_scheme_ = "Basic";
  challenge_realm_ = "scripted-upstream";
  std::string expected = "Basic " + base64Std(user + ":" + password);
  auth_ = [expected](const ServerRequest& req) { return req.headers.get("Authorization") == expected; };
}

bool ScriptedUpstream::authorized(ServerExchange& ex) {
  const ServerRequest& req = ex.request();
  std::string challenge;
  {
    std::lock_guard lock(mu_);
    if (!auth_ || !req.path.starts_with("/v2/") || auth_(req)) return true;
    challenge = challenge_scheme_ + " realm=\"" + challenge_realm_ + "\"";
    if (challenge_scheme_ == "Bearer") {
      challenge += ",service=\"" + challenge_service_ + "\"";
      ApiPath p = splitApiPath(req.path);
      bool read = req.method == "GET" || req.method == "HEAD";
      if (!p.name.empty()) challenge += ",scope=\"repository:" + p.name + (read ? ":pull\"" : ":pull,push\"");
    }
  }
  Headers h = kApiVersion;
  h.add("Content-Type", "application/json");
  h.add("WWW-Authenticate", challenge);
  ex.reply(401, errorBody("UNAUTHORIZED", "authentication required"), std::move(h));
  return false;
}

void ScriptedUpstream::handle(ServerExchange& ex) {
  Handler route;
  {
    std::lock_guard lock(mu_);
    ServerRequest logged = ex.request();
    logged.body.clear();
    log_.push_back(std::move(logged));
    const ServerRequest& req = ex.request();
    for (auto it = routes_.rbegin(); it != routes_.rend() && !route; ++it) {
      bool method = it->method == "*" || it->method == req.method;
      bool path = it->path.ends_with('*') ? req.path.starts_with(it->path.substr(0, it->path.size() - 1))
                                          : req.path == it->path;
      if (method && path) route = it->handler;
    }
  }
  if (!authorized(ex)) return;
  if (route)
    route(ex);
  else
    serveContent(ex);
}

// ---- the default content ----

void ScriptedUpstream::serveContent(ServerExchange& ex) {
  const ServerRequest& req = ex.request();
  if (req.method != "GET" && req.method != "HEAD")
    return replyError(ex, 405, "UNSUPPORTED", "the scripted upstream serves GET and HEAD only");
  if (req.path == "/v2/" || req.path == "/v2") {
    Headers h = kApiVersion;
    h.add("Content-Type", "application/json");
    return ex.reply(200, "{}", std::move(h));
  }
  ApiPath p = splitApiPath(req.path);
  if (p.kind == "blobs") return serveBlob(ex, p.name, p.rest);
  if (p.kind == "manifests") return serveManifest(ex, p.name, p.rest);
  if (p.kind == "tags" && p.rest == "list") return serveTags(ex, p.name);
  replyError(ex, 404, "NAME_UNKNOWN", "no such route in the scripted upstream");
}

void ScriptedUpstream::serveBlob(ServerExchange& ex, const std::string& name, const std::string& digest) {
  Stored blob;
  {
    std::lock_guard lock(mu_);
    auto it = blobs_.find(name + "@" + digest);
    if (it != blobs_.end()) blob = it->second;
  }
  if (!blob.bytes && !blob.generated) return replyError(ex, 404, "BLOB_UNKNOWN", "blob unknown to registry");
  uint64_t size = blob.size(), first = 0, last = size ? size - 1 : 0;
  Headers h = kApiVersion;
  h.add("Content-Type", "application/octet-stream");
  h.add("Docker-Content-Digest", digest);
  h.add("Accept-Ranges", "bytes");
  int status = 200;
  if (std::string range = ex.request().headers.get("Range"); !range.empty() && size > 0) {
    auto r = parseRange(range, size);
    if (!r) return replyError(ex, 416, "BLOB_UNKNOWN", "range not satisfiable");
    std::tie(first, last) = *r;
    status = 206;
    h.add("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
  }
  uint64_t length = size ? last - first + 1 : 0;
  h.add("Content-Length", std::to_string(length));
  if (!ex.writeHead(status, h) || ex.request().method == "HEAD") return;
  if (blob.bytes) {
    ex.write(std::string_view(*blob.bytes).substr(first, length));
    return;
  }
  std::vector<char> buf(1 << 20);
  for (uint64_t off = first; off <= last && length > 0;) {
    std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(buf.size(), last + 1 - off));
    blob.generated->fill(off, buf.data(), n);
    if (!ex.write(std::string_view(buf.data(), n))) return;
    off += n;
  }
}

void ScriptedUpstream::serveManifest(ServerExchange& ex, const std::string& name, const std::string& reference) {
  std::optional<Manifest> m;
  {
    std::lock_guard lock(mu_);
    std::string digest = reference;
    if (!reference.starts_with("sha256:")) {
      auto t = tags_.find(name);
      digest = t != tags_.end() && t->second.contains(reference) ? t->second.at(reference) : "";
    }
    if (auto it = manifests_.find(name + "@" + digest); it != manifests_.end()) m = it->second;
  }
  if (!m) return replyError(ex, 404, "MANIFEST_UNKNOWN", "manifest unknown");
  Headers h = kApiVersion;
  h.add("Content-Type", m->media_type);
  h.add("Docker-Content-Digest", m->digest);
  h.add("Etag", "\"" + m->digest + "\"");
  ex.reply(200, m->bytes, std::move(h));
}

void ScriptedUpstream::serveTags(ServerExchange& ex, const std::string& name) {
  nlohmann::json tags = nlohmann::json::array();
  {
    std::lock_guard lock(mu_);
    auto t = tags_.find(name);
    if (t == tags_.end() || t->second.empty()) return replyError(ex, 404, "NAME_UNKNOWN", "repository name not known");
    for (const auto& [tag, digest] : t->second) tags.push_back(tag);
  }
  Headers h = kApiVersion;
  h.add("Content-Type", "application/json");
  ex.reply(200, nlohmann::json{{"name", name}, {"tags", tags}}.dump(), std::move(h));
}

// ---- counters ----

int ScriptedUpstream::count(const std::string& method, const std::string& path) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& r : log_) n += r.path == path && (method == "*" || r.method == method);
  return n;
}

int ScriptedUpstream::count(const std::string& path) const { return count("*", path); }

int ScriptedUpstream::total() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(log_.size());
}

std::vector<ServerRequest> ScriptedUpstream::requests() const {
  std::lock_guard lock(mu_);
  return log_;
}

void ScriptedUpstream::resetCounts() {
  std::lock_guard lock(mu_);
  log_.clear();
}

// ---- canned handlers ----

namespace scripted {

Handler status(int code, std::string body, Headers headers) {
  return [=](ServerExchange& ex) {
    Headers h = headers;
    if (body.empty() && code >= 400) {
      if (!h.has("Content-Type")) h.add("Content-Type", "application/json");
      std::string error = code == 429 ? "TOOMANYREQUESTS" : code >= 500 ? "UNAVAILABLE" : "DENIED";
      return ex.reply(code, errorBody(error, "scripted failure"), std::move(h));
    }
    ex.reply(code, body, std::move(h));
  };
}

Handler tooManyRequests(int retry_after_seconds) {
  return status(429, {}, {{"Retry-After", std::to_string(retry_after_seconds)}});
}

Handler redirect(std::string base, int code) {
  return [=](ServerExchange& ex) { ex.reply(code, {}, {{"Location", base + ex.request().target}}); };
}

Handler cutAfter(uint64_t bytes, Handler inner) {
  return [=](ServerExchange& ex) {
    ex.cutBodyAfter(bytes);
    inner(ex);
  };
}

Handler stallAfter(uint64_t bytes, std::chrono::milliseconds duration, Handler inner) {
  return [=](ServerExchange& ex) {
    ex.stallBodyAfter(bytes, duration);
    inner(ex);
  };
}

Handler hangUp() {
  return [](ServerExchange& ex) { ex.hangUp(); };
}

Handler stall(std::chrono::milliseconds duration, Handler inner) {
  return [=](ServerExchange& ex) {
    if (ex.stall(duration) && inner) return inner(ex);
    ex.hangUp();
  };
}

Handler sequence(std::vector<Handler> handlers) {
  auto next = std::make_shared<std::atomic<std::size_t>>(0);
  return [=](ServerExchange& ex) {
    std::size_t i = next->fetch_add(1);
    handlers[std::min(i, handlers.size() - 1)](ex);
  };
}

}  // namespace scripted
}  // namespace berth::it
