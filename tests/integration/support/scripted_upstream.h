// A programmable fake registry on loopback, for the faults real registries do
// not produce on demand. By default it serves what the test put into it
// (/v2/, manifests by tag and digest, blobs with Range, tags/list, GET and
// HEAD, the spec's error bodies); per-path handlers replace that for chosen
// paths (429 with Retry-After, 5xx, a body cut short, a stall, a 302 to
// another origin, bytes that do not match their digest, ...). It can demand a
// Bearer token (401 with a challenge naming a realm) or Basic credentials, and
// it counts every request it receives, before auth and routing.
//
// Thread-safe: content, routes and counters may change while it serves.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "integration/support/http_server.h"
#include "integration/support/registry.h"
#include "integration/support/upstream_content.h"

namespace berth::it {

class ScriptedUpstream {
 public:
  // Listens on address:0; another loopback address (127.0.0.2) is another origin.
  // With listening false, connections are refused (an upstream that is down)
  // until listen().
  explicit ScriptedUpstream(const std::string& address = "127.0.0.1", bool listening = true);
  ~ScriptedUpstream();

  std::string url() const { return server_->url(); }
  const std::string& host() const { return server_->host(); }
  uint16_t port() const { return server_->port(); }
  std::string hostPort() const { return host() + ":" + std::to_string(port()); }
  // Stops serving: connections are refused from now on (an upstream gone down).
  void stop() { server_->stop(); }
  // Starts serving, for one constructed not listening (an upstream coming up).
  void listen() { server_->listen(); }

  // ---- content (name: "library/alpine", "app") ----
  void addBlob(const std::string& name, std::string bytes);
  // Serves bytes under a digest they do not have (a corrupt upstream).
  void addBlobAs(const std::string& name, const std::string& digest, std::string bytes);
  void addGeneratedBlob(const std::string& name, std::shared_ptr<const GeneratedBlob> blob);
  // By digest, and under tag when given (a later call moves the tag).
  void addManifest(const std::string& name, const Manifest& m, const std::string& tag = {});
  void addImage(const std::string& name, const Image& img, const std::string& tag = {});  // config, layers, manifest
  void addMultiArch(const std::string& name, const MultiArch& m, const std::string& tag);
  void removeTag(const std::string& name, const std::string& tag);

  // ---- routes ----
  // Handles method ("GET", "HEAD", ..., "*" for any) on path: exact, or a
  // prefix when it ends in '*'. The route added last wins over earlier ones.
  void on(const std::string& method, const std::string& path, Handler handler);
  void clearRoutes();
  // The default content handler, for routes that misbehave only sometimes
  // (scripted::sequence({scripted::status(503), upstream.content()})).
  Handler content();

  // ---- auth (applies to every /v2/ request, before routes) ----
  // 401 with `Bearer realm=..,service=..,scope=repository:<name>:pull[,push]`
  // unless the request's Bearer token satisfies accepts (e.g. TokenIssuer::accepts).
  void requireBearer(const std::string& realm, const std::string& service,
                     std::function<bool(const std::string& token)> accepts);
  // 401 with `Basic realm=...` unless these credentials come.
  void requireBasic(const std::string& user, const std::string& password);

  // ---- counters ----
  int count(const std::string& method, const std::string& path) const;
  int count(const std::string& path) const;  // any method
  int total() const;
  std::vector<ServerRequest> requests() const;  // arrival order, bodies dropped
  void resetCounts();

 private:
  struct Stored {  // one blob: bytes in memory, or generated
    std::shared_ptr<const std::string> bytes;
    std::shared_ptr<const GeneratedBlob> generated;
    uint64_t size() const { return bytes ? bytes->size() : generated->size(); }
  };
  struct Route {
    std::string method, path;
    Handler handler;
  };
  void handle(ServerExchange& ex);
  bool authorized(ServerExchange& ex);
  void serveContent(ServerExchange& ex);
  void serveBlob(ServerExchange& ex, const std::string& name, const std::string& digest);
  void serveManifest(ServerExchange& ex, const std::string& name, const std::string& reference);
  void serveTags(ServerExchange& ex, const std::string& name);

  mutable std::mutex mu_;
  std::map<std::string, Stored> blobs_;                        // name + "@" + digest
  std::map<std::string, Manifest> manifests_;                  // name + "@" + digest
  std::map<std::string, std::map<std::string, std::string>> tags_;  // name -> tag -> digest
  std::vector<Route> routes_;
  std::function<bool(const ServerRequest&)> auth_;
  std::string challenge_realm_, challenge_service_, challenge_scheme_;
  std::vector<ServerRequest> log_;
  std::unique_ptr<HttpServer> server_;  // last: stopped before the rest goes
};

// Canned handlers for ScriptedUpstream::on().
namespace scripted {
// This status with this body (a registry error JSON when body is empty and status >= 400).
Handler status(int code, std::string body = {}, Headers headers = {});
// 429 TOOMANYREQUESTS with Retry-After.
Handler tooManyRequests(int retry_after_seconds);
// 302 (or code) to base + the request's target (base: another origin's url()).
Handler redirect(std::string base, int code = 302);
// inner's answer, cut after `bytes` body bytes and the connection closed.
Handler cutAfter(uint64_t bytes, Handler inner);
// inner's answer, paused for duration after `bytes` body bytes.
Handler stallAfter(uint64_t bytes, std::chrono::milliseconds duration, Handler inner);
// Waits (waking when the server stops), then runs inner, or closes without an answer.
Handler stall(std::chrono::milliseconds duration, Handler inner = {});
// Closes the connection without answering.
Handler hangUp();
// The n-th request gets handlers[n]; the last one answers every request after.
Handler sequence(std::vector<Handler> handlers);
}  // namespace scripted

}  // namespace berth::it
