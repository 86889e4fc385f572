// The outbound client over plain HTTP against loopback servers in the test:
// bodies, keep-alive, the pooled-connection retry, failures, timeouts and
// redirects. Callers here are plain threads (no Suspender): the blocking path.
#include "http/client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "unit/http/client_test_support.h"

namespace berth::http {
namespace {

using testing::okResponse;
using testing::SeenRequest;
using testing::TestConn;
using testing::TestServer;
using testing::waitForClose;

ClientOptions options(int timeout_seconds = 10) { return testing::clientOptions(timeout_seconds); }
ClientRequest get(const std::string& url, std::vector<std::pair<std::string, std::string>> headers = {}) {
  return testing::getRequest(url, std::move(headers));
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

TEST(HttpClient, GetStreamsAContentLengthBodyInSmallPieces) {
  const std::string body = pattern(300 * 1024 + 7);
  std::mutex mu;
  SeenRequest seen;
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    while (c.readRequest(req)) {
      std::lock_guard lock(mu);
      seen = req;
      c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\nX-Test: yes\r\n\r\n");
      for (std::size_t at = 0; at < body.size(); at += 40000) c.send(body.substr(at, 40000));
    }
  });
  HttpClient client(options());
  auto res = client.send(get(server.url("/v2/x/blobs/y?n=1"), {{"Accept", "a/b"}, {"X-Custom", "v"}}), nullptr);
  ASSERT_TRUE(res) << res.error().message;
  auto& r = **res;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_length, body.size());
  EXPECT_EQ(r.header("x-TEST"), "yes");
  EXPECT_EQ(r.header("absent"), "");
  EXPECT_EQ(r.url, server.url("/v2/x/blobs/y?n=1"));
  std::string got;
  char piece[777];
  for (;;) {
    auto n = r.read(piece, sizeof piece);
    ASSERT_TRUE(n) << n.error().message;
    ASSERT_LE(*n, sizeof piece);
    if (*n == 0) break;
    got.append(piece, *n);
  }
  EXPECT_TRUE(got == body) << "got " << got.size() << " bytes of " << body.size();
  EXPECT_EQ(*r.read(piece, sizeof piece), 0u) << "the end stays the end";
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/v2/x/blobs/y?n=1");
  EXPECT_EQ(seen.header("host"), server.hostPort());
  EXPECT_EQ(seen.header("user-agent"), "berth/" BERTH_VERSION);
  EXPECT_EQ(seen.header("accept"), "a/b");
  EXPECT_EQ(seen.header("x-custom"), "v");
  EXPECT_EQ(seen.header("content-length"), "") << "a GET without a body announces none";
}

TEST(HttpClient, PostSendsItsBodyWithContentLength) {
  SeenRequest seen;
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    if (c.readRequest(req)) {
      seen = req;
      c.send(okResponse("{\"token\":\"t\"}"));
    }
  });
  HttpClient client(options());
  ClientRequest req = get(server.url("/token"), {{"Content-Type", "application/x-www-form-urlencoded"}});
  req.method = "POST";
  req.body = "grant_type=password&service=x";
  auto res = client.send(req, nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(*(*res)->readAll(1024), "{\"token\":\"t\"}");
  res->reset();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.body, req.body);
  EXPECT_EQ(seen.header("content-length"), std::to_string(req.body.size()));
}

TEST(HttpClient, ChunkedBodiesArriveWhole) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    while (c.readRequest(req)) {
      c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      c.send("1;ext=1\r\n,\r\n");
      c.send("6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    }
  });
  HttpClient client(options());
  for (int i = 0; i < 2; ++i) {
    auto res = client.send(get(server.url("/chunked")), nullptr);
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ((*res)->content_length, std::nullopt);
    auto body = (*res)->readAll(1024);
    ASSERT_TRUE(body) << body.error().message;
    EXPECT_EQ(*body, "hello, world");
  }
  EXPECT_EQ(server.connections(), 1) << "a chunked body read to its end keeps the connection";
}

// Regression (attack on issue 8): a chunk-size line that never ended grew
// the connection's buffer without bound (20 GB from one request).
TEST(HttpClient, AChunkLineThatNeverEndsIsRefusedNotBuffered) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    if (!c.readRequest(req)) return;
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1");
    const std::string zeros(64 * 1024, '0');
    for (int i = 0; i < 64; ++i)  // 4 MiB of one chunk-size line
      if (!c.send(zeros)) return;
  });
  HttpClient client(options());
  auto res = client.send(get(server.url("/endless")), nullptr);
  ASSERT_TRUE(res) << res.error().message;
  auto body = (*res)->readAll(1 << 30);
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().code, ErrorCode::Unavailable);
  EXPECT_NE(body.error().message.find("chunk line"), std::string::npos) << body.error().message;
}

TEST(HttpClient, HeadReportsTheAnnouncedLengthAndKeepsTheConnection) {
  std::vector<std::string> methods;
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    while (c.readRequest(req)) {
      methods.push_back(req.method);
      if (req.method == "HEAD")
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 12345\r\nDocker-Content-Digest: sha256:x\r\n\r\n");
      else
        c.send(okResponse("abc"));
    }
  });
  HttpClient client(options());
  ClientRequest head = get(server.url("/m"));
  head.method = "HEAD";
  auto res = client.send(head, nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ((*res)->status, 200);
  EXPECT_EQ((*res)->content_length, 12345u);
  EXPECT_EQ((*res)->header("docker-content-digest"), "sha256:x");
  char b[16];
  EXPECT_EQ(*(*res)->read(b, sizeof b), 0u);
  auto second = client.send(get(server.url("/m")), nullptr);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*(*second)->readAll(100), "abc");
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(methods, (std::vector<std::string>{"HEAD", "GET"}));
}

TEST(HttpClient, ConnectionsAreReusedOnlyAfterTheBodyWasReadToItsEnd) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    while (c.readRequest(req)) c.send(okResponse(pattern(100000)));
  });
  HttpClient client(options());
  for (int i = 0; i < 2; ++i) {
    auto res = client.send(get(server.url("/a")), nullptr);
    ASSERT_TRUE(res) << res.error().message;
    ASSERT_TRUE((*res)->readAll(1 << 20));
  }
  EXPECT_EQ(server.connections(), 1) << "two sequential requests, one connection";
  {
    auto res = client.send(get(server.url("/a")), nullptr);
    ASSERT_TRUE(res);
    char b[10];
    ASSERT_TRUE((*res)->read(b, sizeof b));
  }  // dropped before its end: that connection is closed, not pooled
  auto res = client.send(get(server.url("/a")), nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ((*res)->readAll(1 << 20)->size(), 100000u);
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClient, ThePoolKeepsAtMostMaxIdlePerHostForIdleKeep) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    while (c.readRequest(req)) c.send(okResponse("x"));
  });
  ClientOptions o = options();
  o.max_idle_per_host = 1;
  o.idle_keep = std::chrono::seconds(1);
  HttpClient client(o);
  auto both = [&] {
    auto a = client.send(get(server.url("/a")), nullptr);
    auto b = client.send(get(server.url("/b")), nullptr);  // while `a` holds its connection
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*(*a)->readAll(10), "x");
    EXPECT_EQ(*(*b)->readAll(10), "x");
  };
  both();
  EXPECT_EQ(server.connections(), 2);
  both();  // one of the two was kept
  EXPECT_EQ(server.connections(), 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto c = client.send(get(server.url("/c")), nullptr);
  ASSERT_TRUE(c);
  EXPECT_EQ(server.connections(), 4) << "a connection idle longer than idle_keep is not used";
}

TEST(HttpClient, APooledConnectionTheServerDroppedIsRetriedOnAFreshOne) {
  TestServer server([&](TestConn& c, int index) {
    SeenRequest req;
    if (index == 0) {
      if (c.readRequest(req)) c.send(okResponse("first"));
      c.readRequest(req);  // the next request on this connection gets no answer at all
      return;
    }
    while (c.readRequest(req)) c.send(okResponse("again"));
  });
  HttpClient client(options());
  auto res = client.send(get(server.url("/x")), nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(*(*res)->readAll(100), "first");
  res = client.send(get(server.url("/x")), nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(*(*res)->readAll(100), "again");
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClient, AnIdleConnectionClosedByTheServerIsNotAFailure) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    if (c.readRequest(req)) c.send(okResponse("once"));  // then closes, without Connection: close
  });
  HttpClient client(options());
  for (int i = 0; i < 3; ++i) {
    auto res = client.send(get(server.url("/x")), nullptr);
    ASSERT_TRUE(res) << i << ": " << res.error().message;
    EXPECT_EQ(*(*res)->readAll(100), "once");
    std::this_thread::sleep_for(std::chrono::milliseconds(i * 50));
  }
  EXPECT_EQ(server.connections(), 3);
}

TEST(HttpClient, ARefusedConnectionIsUnavailableNamingTheUpstream) {
  uint16_t port;
  {
    // A port that was free a moment ago: nobody listens there now.
    TestServer gone([](TestConn&, int) {});
    port = gone.port();
  }
  HttpClient client(options());
  auto res = client.send(get("http://127.0.0.1:" + std::to_string(port) + "/v2/"), nullptr);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(res.error().message, "upstream 127.0.0.1:" + std::to_string(port) + ": connection refused");
  auto bad = client.send(get("gopher://x/"), nullptr);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::Unavailable);
}

TEST(HttpClient, AServerThatStallsMidBodyTimesOut) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    if (!c.readRequest(req)) return;
    if (req.target == "/body") c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
    waitForClose(c);
  });
  HttpClient client(options(1));
  auto res = client.send(get(server.url("/body")), nullptr);
  ASSERT_TRUE(res) << res.error().message;
  auto body = (*res)->readAll(1 << 20);
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(body.error().message, "upstream " + server.hostPort() + ": timed out waiting for the response body");
  char b[4];
  EXPECT_FALSE((*res)->read(b, sizeof b)) << "a broken body stays broken";

  auto header = client.send(get(server.url("/header")), nullptr);
  ASSERT_FALSE(header);
  EXPECT_EQ(header.error().message, "upstream " + server.hostPort() + ": timed out waiting for the response header");
}

TEST(HttpClient, ABodyCutShortIsUnavailable) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    if (c.readRequest(req)) c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
  });
  HttpClient client(options());
  auto res = client.send(get(server.url("/")), nullptr);
  ASSERT_TRUE(res) << res.error().message;
  auto body = (*res)->readAll(1000);
  ASSERT_FALSE(body);
  EXPECT_NE(body.error().message.find("closed before the end of the body"), std::string::npos) << body.error().message;
}

TEST(HttpClient, ReadAllRefusesMoreThanItsLimit) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    while (c.readRequest(req)) {
      if (req.target == "/length")
        c.send(okResponse(pattern(5000)));
      else
        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" + pattern(5000) + "\r\n0\r\n\r\n");
    }
  });
  HttpClient client(options());
  for (const char* path : {"/length", "/chunked"}) {
    auto res = client.send(get(server.url(path)), nullptr);
    ASSERT_TRUE(res) << res.error().message;
    auto body = (*res)->readAll(4096);
    ASSERT_FALSE(body) << path;
    EXPECT_NE(body.error().message.find("too large"), std::string::npos);
  }
}

}  // namespace
}  // namespace berth::http
