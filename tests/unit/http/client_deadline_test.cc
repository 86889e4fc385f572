// The outbound client against servers that answer too slowly to ever time a
// single read out (a byte every 200 ms), and what send() says about the kind
// of its failures (a host out of reach, or one answer unusable).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "http/client.h"
#include "unit/http/client_test_support.h"

namespace berth::http {
namespace {

using namespace std::chrono_literals;
using testing::okResponse;
using testing::SeenRequest;
using testing::TestConn;
using testing::TestServer;
using testing::waitForClose;

ClientRequest get(const std::string& url) { return testing::getRequest(url); }

// Sends `text` one byte every 200 ms, until it is all sent or the client left.
void trickle(TestConn& c, const std::string& text) {
  for (char ch : text) {
    if (!c.send(std::string(1, ch))) return;
    std::this_thread::sleep_for(200ms);
  }
}

TEST(HttpClientDeadline, AHeaderTrickledAByteAtATimeEndsAtTheTimeout) {
  // Every byte comes well within the 1 s timeout of a read; the whole header
  // would take 30 s.
  const std::string head = "HTTP/1.1 200 OK\r\nX-Slow: " + std::string(140, 'a') + "\r\nContent-Length: 0\r\n\r\n";
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    if (c.readRequest(req)) trickle(c, head);
  });
  HttpClient client(testing::clientOptions(1));
  auto res = client.send(get(server.url("/v2/")), nullptr);
  ASSERT_FALSE(res) << "the header took " << head.size() / 5 << " s";
  EXPECT_EQ(res.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(res.error().message, "upstream " + server.hostPort() + ": timed out waiting for the response header");
}

TEST(HttpClientDeadline, AWholeResponseTimeoutBoundsATrickledBody) {
  const std::string body(100, 't');
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    if (!c.readRequest(req)) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    trickle(c, body);
  });
  HttpClient client(testing::clientOptions(1));
  ClientRequest req = get(server.url("/token"));
  req.whole_response_timeout = 1s;
  auto res = client.send(req, nullptr);
  ASSERT_TRUE(res) << res.error().message;
  auto all = (*res)->readAll(1 << 10);
  ASSERT_FALSE(all) << "the body took 20 s";
  EXPECT_EQ(all.error().message, "upstream " + server.hostPort() + ": timed out waiting for the whole response");
}

TEST(HttpClientDeadline, AFastResponseIsNotCutByTheWholeResponseTimeout) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    while (c.readRequest(req)) c.send(okResponse("{\"token\":\"t\"}"));
  });
  HttpClient client(testing::clientOptions(1));
  ClientRequest req = get(server.url("/token"));
  req.whole_response_timeout = 1s;
  for (int i = 0; i < 3; ++i) {
    auto res = client.send(req, nullptr);
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(*(*res)->readAll(100), "{\"token\":\"t\"}");
  }
}

// What send() reports, and the failure kind it gives.
SendFailure failureOf(HttpClient& client, const std::string& url) {
  SendFailure kind = SendFailure::None;
  auto res = client.send(get(url), nullptr, &kind);
  EXPECT_EQ(static_cast<bool>(res), kind == SendFailure::None) << url;
  return kind;
}

TEST(HttpClientDeadline, OnlyAHostOutOfReachIsAConnectFailure) {
  TestServer server([&](TestConn& c, int) {
    SeenRequest req;
    while (c.readRequest(req)) {
      if (req.target == "/ok") {
        c.send(okResponse("fine"));
      } else if (req.target == "/huge-header") {
        c.send("HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'h') + "\r\n\r\n");
        return;
      } else if (req.target == "/negative-length") {
        c.send("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n");
        return;
      } else if (req.target == "/garbage") {
        c.send("NOT HTTP AT ALL\r\n\r\n");
        return;
      } else if (req.target == "/hang-up") {
        return;
      } else if (req.target == "/silent") {
        waitForClose(c);
        return;
      } else if (req.target.starts_with("/elsewhere/")) {
        c.send("HTTP/1.1 302 Found\r\nLocation: " + req.target.substr(11) + "\r\nContent-Length: 0\r\n\r\n");
      }
    }
  });
  uint16_t dead_port;
  {
    TestServer gone([](TestConn&, int) {});
    dead_port = gone.port();
  }
  std::string dead = "127.0.0.1:" + std::to_string(dead_port);
  HttpClient client(testing::clientOptions(1));
  EXPECT_EQ(failureOf(client, server.url("/ok")), SendFailure::None);
  for (const char* path : {"/huge-header", "/negative-length", "/garbage", "/hang-up", "/silent"})
    EXPECT_EQ(failureOf(client, server.url(path)), SendFailure::Exchange) << path;
  EXPECT_EQ(failureOf(client, "http://" + dead + "/v2/"), SendFailure::Connect);
  // TLS to a server that does not speak it: the handshake fails.
  EXPECT_EQ(failureOf(client, "https://" + server.hostPort() + "/ok"), SendFailure::Connect);
  // A redirect to a host out of reach: the upstream answered; its CDN did not.
  EXPECT_EQ(failureOf(client, server.url("/elsewhere/http://" + dead + "/blob")), SendFailure::Exchange);
  EXPECT_EQ(failureOf(client, "gopher://x/"), SendFailure::Exchange);
}

}  // namespace
}  // namespace berth::http
