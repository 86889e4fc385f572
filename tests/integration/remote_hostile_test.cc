// Remote repositories against upstreams that attack Berth rather than fail:
// garbage on one path (which must not take the whole upstream down), answers
// trickled a byte at a time (bounded by timeout_seconds as a whole), a tag
// list of 16 MiB (refused; the cache answers), and an endless blob while
// Berth is told to stop (it must not wait out its grace period).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "integration/remote_support.h"
#include "integration/support/scripted_upstream.h"

namespace berth::it {
namespace {

using namespace std::chrono_literals;
using remoteit::Downstream;
using remoteit::eventually;
using remoteit::expectPulls;
using Clock = std::chrono::steady_clock;

// These bytes as they are, whatever they are, then the connection closed.
Handler raw(std::string bytes) {
  return [bytes](ServerExchange& ex) {
    ex.write(bytes);
    ex.hangUp();
  };
}

// `head` at once (unless empty), then `bytes` one every 200 ms.
Handler trickle(std::string head, std::string bytes) {
  return [head, bytes](ServerExchange& ex) {
    if (!head.empty()) ex.write(head);
    for (char c : bytes)
      if (!ex.write(std::string(1, c)) || !ex.stall(200ms)) break;
    ex.hangUp();
  };
}

// {"name":"app","tags":["t","t",...]}: `size` bytes of one-character tags.
std::string hugeTagList(std::size_t size) {
  std::string body = "{\"name\":\"app\",\"tags\":[";
  body.reserve(size + 16);
  while (body.size() < size) body += "\"t\",";
  body += "\"z\"]}";
  return body;
}

// Reads what is left until the peer closes (or resets); false when it
// stays open past the socket's timeout.
bool closedBy(Socket& s, std::string* rest) {
  char buf[4096];
  try {
    while (std::size_t n = s.readSome(buf, sizeof buf))
      if (rest) rest->append(buf, n);
  } catch (const std::exception& e) {
    return std::string(e.what()).find("timed out") == std::string::npos;
  }
  return true;
}

TEST(RemoteHostile, GarbageOnOnePathDoesNotTakeTheUpstreamDown) {
  ScriptedUpstream up;
  up.addImage("bad", makeImage(mt::kOciManifest, 1), "v1");
  Downstream berth(up.url());
  const std::vector<std::pair<std::string, Handler>> attacks = {
      {"a header over 64 KiB", raw("HTTP/1.1 200 OK\r\nX-Pad: " + std::string(70 * 1024, 'x') + "\r\n\r\n")},
      {"Content-Length: -1", raw("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc")},
      {"a malformed status line", raw("HTTP/1.1 two hundred OK\r\nContent-Length: 0\r\n\r\n")},
      {"no answer at all", scripted::hangUp()},
  };
  for (std::size_t i = 0; i < attacks.size(); ++i) {
    const auto& [what, handler] = attacks[i];
    up.clearRoutes();
    up.on("*", "/v2/bad/*", handler);
    Response r = berth.image("bad").getManifest("v1");
    EXPECT_TRUE(isApiError(r, 503, "UNAVAILABLE")) << what << ": " << r.describe();
    EXPECT_NE(r.body.find(up.hostPort()), std::string::npos) << what << ": " << r.body;
    // Right after, another image of the same upstream pulls cold: manifest and blobs.
    Image img = makeImage(mt::kOciManifest, 2);
    std::string name = "app" + std::to_string(i);
    up.addImage(name, img, "v1");
    expectPulls(berth.image(name), img, "v1");
    EXPECT_EQ(up.count("GET", "/v2/" + name + "/manifests/v1"), 1) << what;
    EXPECT_EQ(berth.daemon().log().find("retrying shortly"), std::string::npos) << what;
  }
}

TEST(RemoteHostile, AnAnswerTrickledAByteAtATimeEndsAtTheTimeout) {
  ScriptedUpstream up;
  Image img = makeImage(mt::kOciManifest, 1);
  up.addImage("app", img, "v1");
  Downstream berth(up.url(), "timeout_seconds: 1");
  // Every byte within the 1 s timeout of a read; the whole header in 30 s.
  up.on("GET", "/v2/app/manifests/v1",
        trickle({}, "HTTP/1.1 404 Not Found\r\nX-Slow: " + std::string(120, 's') + "\r\nContent-Length: 0\r\n\r\n"));
  Response slow = berth.image("app").getManifest("v1");
  EXPECT_TRUE(isApiError(slow, 503, "UNAVAILABLE")) << slow.describe();
  EXPECT_NE(slow.body.find("timed out waiting for the response header"), std::string::npos) << slow.body;
  up.clearRoutes();
  expectPulls(berth.image("app"), img, "v1");  // and it was one answer's failure, not a dead upstream

  // A token trickled the same way: the whole token response is bounded too.
  ScriptedUpstream tokens;
  std::string token = "{\"token\":\"" + std::string(100, 'k') + "\"}";
  tokens.on("GET", "/token",
            trickle("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(token.size()) + "\r\n\r\n",
                    token));
  up.requireBearer(tokens.url() + "/token", "scripted", [](const std::string&) { return true; });
  Image other = makeImage(mt::kOciManifest, 1);
  up.addImage("other", other, "v1");
  Response no_token = berth.image("other").getManifest("v1");
  EXPECT_TRUE(isApiError(no_token, 503, "UNAVAILABLE")) << no_token.describe();
  EXPECT_NE(no_token.body.find("timed out waiting for the whole response"), std::string::npos) << no_token.body;
}

TEST(RemoteHostile, ATagListOf16MiBIsRefusedAndTheCacheAnswers) {
  ScriptedUpstream up;
  Image img = makeImage(mt::kOciManifest, 1);
  up.addImage("app", img, "v1");
  Downstream berth(up.url());
  const std::string huge = hugeTagList(16 << 20);
  up.on("GET", "/v2/app/tags/list", scripted::status(200, huge, {{"Content-Type", "application/json"}}));
  // Announced with Content-Length: refused before reading it.
  Response refused = berth.image("app").tags();
  EXPECT_TRUE(isApiError(refused, 503, "UNAVAILABLE")) << refused.describe();
  EXPECT_NE(refused.body.find("tag list"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("too large"), std::string::npos) << refused.body;
  // Once something is cached, the cached tags answer instead.
  expectPulls(berth.image("app"), img, "v1");
  Response cached = berth.image("app").tags();
  ASSERT_EQ(cached.status, 200) << cached.describe();
  EXPECT_EQ(cached.json()["tags"], nlohmann::json::array({"v1"}));

  // Not announced (ended by closing the connection): read no further than the bound.
  up.on("GET", "/v2/other/tags/list", [&huge](ServerExchange& ex) {
    ex.writeHead(200, {{"Content-Type", "application/json"}, {"Connection", "close"}});
    for (std::size_t at = 0; at < huge.size(); at += 64 * 1024)
      if (!ex.write(std::string_view(huge).substr(at, 64 * 1024))) break;
    ex.hangUp();
  });
  Response unannounced = berth.image("other").tags();
  EXPECT_TRUE(isApiError(unannounced, 503, "UNAVAILABLE")) << unannounced.describe();
  EXPECT_NE(unannounced.body.find("too large"), std::string::npos) << unannounced.body;
  EXPECT_EQ(berth.http().get("/v2/").status, 200) << "the daemon is alive";
}

TEST(RemoteHostile, ConcurrentIdenticalTagListsShareOneUpstreamRequest) {
  ScriptedUpstream up;
  Image img = makeImage(mt::kOciManifest, 1);
  up.addImage("app", img, "v1");
  Downstream berth(up.url());
  // Slow enough that every client asks while the first is being answered.
  up.on("GET", "/v2/app/tags/list", scripted::stall(1500ms, up.content()));
  std::vector<Response> got(8);
  std::vector<std::thread> clients;
  for (std::size_t i = 0; i < got.size(); ++i)
    clients.emplace_back([&, i] {
      HttpClient c = berth.newClient();
      got[i] = c.get("/v2/docker-remote/app/tags/list");
    });
  for (auto& t : clients) t.join();
  for (const auto& r : got) {
    EXPECT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.json()["tags"], nlohmann::json::array({"v1"}));
  }
  EXPECT_EQ(up.count("GET", "/v2/app/tags/list"), 1);
}

TEST(RemoteHostile, SigtermDuringAnEndlessUpstreamFetchEndsItAndExitsPromptly) {
  ScriptedUpstream up;
  const std::string digest = sha256Of("never all of it");
  // A blob announced at 1 GiB whose bytes come for ever, slowly.
  up.on("GET", "/v2/app/blobs/" + digest, [](ServerExchange& ex) {
    ex.writeHead(200, {{"Content-Type", "application/octet-stream"}, {"Content-Length", std::to_string(1ull << 30)}});
    while (ex.write(std::string(1024, 'b')) && ex.stall(100ms)) {
    }
    ex.hangUp();
  });
  // And a manifest whose header never comes (within the 60 s timeout).
  up.on("GET", "/v2/app/manifests/v1", scripted::stall(120s));
  DaemonOptions o;
  o.repositories = {"docker-local"};
  o.log_level = "info";
  o.server_extra = "shutdown_grace_seconds: 30";
  o.repository_yaml = {remoteit::remoteYaml("docker-remote", up.url())};
  Daemon daemon(o);
  daemon.start();

  Socket blob(daemon.host(), daemon.port(), 20);
  ASSERT_TRUE(blob.writeAll("GET /v2/docker-remote/app/blobs/" + digest + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string head = readUntil(blob, "\r\n\r\n");
  ASSERT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  char buf[4096];
  ASSERT_GT(blob.readSome(buf, sizeof buf), 0u) << "the blob is streaming";
  Socket manifest(daemon.host(), daemon.port(), 20);
  ASSERT_TRUE(manifest.writeAll("GET /v2/docker-remote/app/manifests/v1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return up.count("GET", "/v2/app/manifests/v1") == 1; }));

  auto sigterm = Clock::now();
  int code = -1;
  EXPECT_NO_THROW(code = daemon.stop()) << "berth waited for its upstream";
  auto took = Clock::now() - sigterm;
  EXPECT_EQ(code, 0);
  // A functional bound, far below the 30 s grace period: not a speed test.
  EXPECT_LT(took, 10s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  // Both clients were let go: the blob cut short, the manifest answered or closed.
  std::string rest;
  EXPECT_TRUE(closedBy(blob, nullptr)) << "the blob's connection was left open";
  EXPECT_TRUE(closedBy(manifest, &rest)) << "the manifest's connection was left open";
  EXPECT_TRUE(rest.empty() || rest.starts_with("HTTP/1.1 503")) << rest;
}

}  // namespace
}  // namespace berth::it
