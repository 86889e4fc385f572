// Redirects and plain-HTTP proxies of the outbound client.
#include <gtest/gtest.h>

#include <mutex>

#include "http/client.h"
#include "unit/http/client_test_support.h"

namespace berth::http {
namespace {

using testing::clientOptions;
using testing::getRequest;
using testing::okResponse;
using testing::SeenRequest;
using testing::TestConn;
using testing::TestServer;

std::string redirect(int status, const std::string& location, const std::string& body = "moved") {
  return "HTTP/1.1 " + std::to_string(status) + " Moved\r\nLocation: " + location +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Records every request; answers with `answer(request)`.
class Recorder {
 public:
  explicit Recorder(std::function<std::string(const SeenRequest&)> answer, const char* address = "127.0.0.1")
      : answer_(std::move(answer)), server_([this](TestConn& c, int) { serve(c); }, address) {}
  std::vector<SeenRequest> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  TestServer& server() { return server_; }

 private:
  void serve(TestConn& c) {
    SeenRequest req;
    while (c.readRequest(req)) {
      {
        std::lock_guard lock(mu_);
        seen_.push_back(req);
      }
      c.send(answer_(req));
    }
  }
  std::function<std::string(const SeenRequest&)> answer_;
  std::mutex mu_;
  std::vector<SeenRequest> seen_;
  TestServer server_;  // last: its threads use the members above
};

TEST(HttpClientRedirects, AnotherOriginNeverSeesTheAuthorizationHeader) {
  Recorder cdn([](const SeenRequest&) { return okResponse("blob bytes"); }, "127.0.0.2");
  Recorder registry([&](const SeenRequest& r) {
    if (r.target == "/v2/a/blobs/x") return redirect(307, cdn.server().url("/signed?sig=1"));
    return okResponse("?");
  });
  HttpClient client(clientOptions());
  auto res = client.send(getRequest(registry.server().url("/v2/a/blobs/x"), {{"Authorization", "Bearer secret"}}),
                         nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ((*res)->status, 200);
  EXPECT_EQ((*res)->url, cdn.server().url("/signed?sig=1"));
  EXPECT_EQ(*(*res)->readAll(100), "blob bytes");
  ASSERT_EQ(registry.seen().size(), 1u);
  EXPECT_EQ(registry.seen()[0].header("authorization"), "Bearer secret");
  ASSERT_EQ(cdn.seen().size(), 1u);
  EXPECT_EQ(cdn.seen()[0].header("authorization"), "") << "credentials leaked to another host";
  EXPECT_EQ(cdn.seen()[0].header("host"), cdn.server().hostPort());
  EXPECT_EQ(cdn.seen()[0].target, "/signed?sig=1");
}

TEST(HttpClientRedirects, TheSameOriginKeepsItAndRelativeLocationsResolve) {
  Recorder registry([](const SeenRequest& r) {
    if (r.target == "/v2/a/manifests/latest") return redirect(301, "../../b/manifests/latest");
    if (r.target == "/v2/b/manifests/latest") return redirect(302, "/v2/c/manifests/latest?x=1");
    return okResponse("manifest");
  });
  HttpClient client(clientOptions());
  auto res = client.send(getRequest(registry.server().url("/v2/a/manifests/latest"), {{"Authorization", "Basic x"}}),
                         nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(*(*res)->readAll(100), "manifest");
  EXPECT_EQ((*res)->url, registry.server().url("/v2/c/manifests/latest?x=1"));
  auto seen = registry.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].target, "/v2/b/manifests/latest");
  EXPECT_EQ(seen[2].target, "/v2/c/manifests/latest?x=1");
  for (const auto& r : seen) EXPECT_EQ(r.header("authorization"), "Basic x") << r.target;
  EXPECT_EQ(registry.server().connections(), 1) << "the redirects' small bodies were read to keep the connection";
}

TEST(HttpClientRedirects, OnceOffTheOriginTheHeaderStaysDropped) {
  std::string home;
  Recorder bouncer([&](const SeenRequest&) { return redirect(302, home); }, "127.0.0.2");
  Recorder registry([&](const SeenRequest& r) {
    return r.target == "/start" ? redirect(302, bouncer.server().url("/hop")) : okResponse("back home");
  });
  home = registry.server().url("/home");
  HttpClient client(clientOptions());
  auto res = client.send(getRequest(registry.server().url("/start"), {{"authorization", "Bearer s"}}), nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(*(*res)->readAll(100), "back home");
  auto seen = registry.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].header("authorization"), "Bearer s");
  EXPECT_EQ(seen[1].header("authorization"), "") << "a redirect chain that left the origin is not trusted again";
  ASSERT_EQ(bouncer.seen().size(), 1u);
  EXPECT_EQ(bouncer.seen()[0].header("authorization"), "");
}

TEST(HttpClientRedirects, AfterMaxRedirectsTheLastRedirectIsTheAnswer) {
  Recorder loop([](const SeenRequest&) { return redirect(302, "/loop", "again"); });
  HttpClient client(clientOptions());
  ClientRequest req = getRequest(loop.server().url("/loop"));
  req.max_redirects = 3;
  auto res = client.send(req, nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ((*res)->status, 302);
  EXPECT_EQ((*res)->header("location"), "/loop");
  EXPECT_EQ(*(*res)->readAll(100), "again");
  EXPECT_EQ(loop.seen().size(), 4u) << "the first request and three redirects";

  req.max_redirects = 0;
  res = client.send(req, nullptr);
  ASSERT_TRUE(res);
  EXPECT_EQ((*res)->status, 302);
  EXPECT_EQ(loop.seen().size(), 5u);
}

TEST(HttpClientRedirects, OnlyGetAndHeadFollow) {
  Recorder server([](const SeenRequest& r) {
    return r.target == "/post" ? redirect(302, "/elsewhere") : okResponse("followed");
  });
  HttpClient client(clientOptions());
  ClientRequest post = getRequest(server.server().url("/post"));
  post.method = "POST";
  post.body = "x";
  auto res = client.send(post, nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ((*res)->status, 302);
  EXPECT_EQ(server.seen().size(), 1u);
}

TEST(HttpClientProxy, PlainHttpGoesToTheProxyInAbsoluteForm) {
  Recorder proxy([](const SeenRequest&) { return okResponse("via proxy"); });
  ClientOptions o = clientOptions();
  o.proxy.http_proxy = "http://user:p%40ss@" + proxy.server().hostPort();
  o.proxy.https_proxy = "http://127.0.0.1:9";  // not used for http:// URLs
  HttpClient client(o);
  for (int i = 0; i < 2; ++i) {
    auto res = client.send(getRequest("http://127.0.0.1:9/v2/x?y=1"), nullptr);
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(*(*res)->readAll(100), "via proxy");
  }
  auto seen = proxy.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "http://127.0.0.1:9/v2/x?y=1");
  EXPECT_EQ(seen[0].header("host"), "127.0.0.1:9");
  EXPECT_EQ(seen[0].header("proxy-authorization"), "Basic dXNlcjpwQHNz");
  EXPECT_EQ(proxy.server().connections(), 1) << "the connection to the proxy is kept";
}

TEST(HttpClientProxy, NoProxyHostsAreReachedDirectly) {
  Recorder proxy([](const SeenRequest&) { return okResponse("via proxy"); });
  Recorder direct([](const SeenRequest&) { return okResponse("direct"); });
  ClientOptions o = clientOptions();
  o.proxy.http_proxy = proxy.server().hostPort();
  o.proxy.no_proxy = "example.com, 127.0.0.1";
  HttpClient client(o);
  auto res = client.send(getRequest(direct.server().url("/")), nullptr);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(*(*res)->readAll(100), "direct");
  EXPECT_TRUE(proxy.seen().empty());
}

TEST(HttpClientProxy, AProxyUrlThatCannotBeParsedIsNotQuoted) {
  ClientOptions o = clientOptions();
  o.proxy.http_proxy = "http://user:secret@/";
  HttpClient client(o);
  auto res = client.send(getRequest("http://127.0.0.1:9/"), nullptr);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(res.error().message.find("secret"), std::string::npos) << res.error().message;
}

}  // namespace
}  // namespace berth::http
