#include "http/client_url.h"

#include <gtest/gtest.h>

#include "core/base64.h"
#include "http/message.h"

#include "http/client.h"

namespace berth::http {
namespace {

Url must(std::string_view text) {
  auto u = parseUrl(text);
  EXPECT_TRUE(u) << text;
  return u.value_or(Url{});
}

std::string resolved(const std::string& base, std::string_view location) {
  auto u = resolveLocation(must(base), location);
  return u ? u->str() : "(none)";
}

TEST(ClientUrl, ParsesSchemeHostPortAndTarget) {
  Url u = must("HTTPS://Registry-1.Docker.IO/v2/library/alpine/manifests/3?x=1#frag");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "registry-1.docker.io");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.target, "/v2/library/alpine/manifests/3?x=1");
  EXPECT_EQ(u.authority(), "registry-1.docker.io");
  EXPECT_EQ(u.hostPort(), "registry-1.docker.io:443");
  EXPECT_EQ(u.origin(), "https://registry-1.docker.io:443");

  u = must("http://127.0.0.1:5001");
  EXPECT_EQ(u.port, 5001);
  EXPECT_EQ(u.target, "/");
  EXPECT_EQ(u.authority(), "127.0.0.1:5001");
  EXPECT_EQ(must("http://h?q=1").target, "/?q=1");
  EXPECT_EQ(must("http://h:80/").authority(), "h");

  u = must("http://[::1]:8080/x");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.authority(), "[::1]:8080");
  EXPECT_EQ(u.str(), "http://[::1]:8080/x");

  u = must("http://user:p%40ss@proxy:3128");
  EXPECT_EQ(u.userinfo, "user:p%40ss");
  EXPECT_EQ(u.host, "proxy");
  EXPECT_EQ(u.str(), "http://proxy:3128/") << "user information never appears in the URL we print";
}

TEST(ClientUrl, RefusesWhatCannotBeARequestLine) {
  for (const char* bad : {"ftp://h/x", "h/x", "http://", "http://h:0/", "http://h:65536/", "http://h:12a/",
                          "http://h/a b", "http://h/a\r\nX: y", "http://[::1/x", "http://:80/"})
    EXPECT_FALSE(parseUrl(bad)) << bad;
}

TEST(ClientUrl, ProxySettingsWithoutSchemeAreHttp) {
  auto p = parseProxyUrl(" 127.0.0.1:3128 ");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scheme, "http");
  EXPECT_EQ(p->hostPort(), "127.0.0.1:3128");
  EXPECT_EQ(parseProxyUrl("https://p:443")->scheme, "https");
}

TEST(ClientUrl, LocationsResolveAgainstTheUrlThatSentThem) {
  const std::string base = "https://reg.example:5000/v2/a/blobs/sha256:ab?x=1";
  EXPECT_EQ(resolved(base, "https://cdn.example/blob?sig=z"), "https://cdn.example/blob?sig=z");
  EXPECT_EQ(resolved(base, "//cdn.example:8443/b"), "https://cdn.example:8443/b");
  EXPECT_EQ(resolved(base, "/v2/b/blobs/c"), "https://reg.example:5000/v2/b/blobs/c");
  EXPECT_EQ(resolved(base, "other"), "https://reg.example:5000/v2/a/blobs/other");
  EXPECT_EQ(resolved(base, "../x/./y?q"), "https://reg.example:5000/v2/a/x/y?q");
  EXPECT_EQ(resolved(base, "../../../../../up"), "https://reg.example:5000/up");
  EXPECT_EQ(resolved(base, "?y=2"), "https://reg.example:5000/v2/a/blobs/sha256:ab?y=2");
  EXPECT_EQ(resolved(base, "dir/#frag"), "https://reg.example:5000/v2/a/blobs/dir/");
  EXPECT_EQ(resolved(base, "  /trimmed "), "https://reg.example:5000/trimmed");
  EXPECT_EQ(resolved(base, "ftp://elsewhere/x"), "(none)");
  EXPECT_EQ(resolved(base, "/bad path"), "(none)");
}

TEST(ClientUrl, NoProxyMatchesHostsDomainsPortsAndStar) {
  EXPECT_TRUE(noProxyMatches("*", "anything", 80));
  EXPECT_TRUE(noProxyMatches("localhost,127.0.0.1", "127.0.0.1", 5000));
  EXPECT_FALSE(noProxyMatches("127.0.0.1", "127.0.0.10", 5000));
  EXPECT_TRUE(noProxyMatches("example.com", "example.com", 443));
  EXPECT_TRUE(noProxyMatches("example.com", "registry.example.com", 443));
  EXPECT_TRUE(noProxyMatches(" .Example.COM ", "a.b.example.com", 443));
  EXPECT_TRUE(noProxyMatches(".example.com", "example.com", 443));
  EXPECT_TRUE(noProxyMatches("*.example.com", "x.example.com", 443));
  EXPECT_FALSE(noProxyMatches("example.com", "badexample.com", 443));
  EXPECT_FALSE(noProxyMatches("example.com", "example.com.evil", 443));
  EXPECT_TRUE(noProxyMatches("example.com:8443", "example.com", 8443));
  EXPECT_FALSE(noProxyMatches("example.com:8443", "example.com", 443));
  EXPECT_TRUE(noProxyMatches("[::1]:5000", "::1", 5000));
  EXPECT_TRUE(noProxyMatches("::1", "::1", 5000));
  EXPECT_TRUE(noProxyMatches("a, ,b,EXAMPLE.com", "example.com", 1));
  EXPECT_FALSE(noProxyMatches("", "example.com", 1));
  EXPECT_FALSE(noProxyMatches(",,", "example.com", 1));
}

TEST(ClientUrl, Base64AndPercentDecodingOfProxyCredentials) {
  EXPECT_EQ(berth::base64Encode(""), "");
  EXPECT_EQ(berth::base64Encode("f"), "Zg==");
  EXPECT_EQ(berth::base64Encode("fo"), "Zm8=");
  EXPECT_EQ(berth::base64Encode("foo"), "Zm9v");
  EXPECT_EQ(berth::base64Encode("user:pass"), "dXNlcjpwYXNz");
  // In user-info a '+' is a plus, not a space (that is only for queries).
  EXPECT_EQ(percentDecode("p%40ss%3a%zz%4+", false), "p@ss:%zz%4+");
  EXPECT_EQ(percentDecode("a+b"), "a b");
}

TEST(ClientUrl, ProxyConfigFromTheEnvironment) {
  ::setenv("HTTPS_PROXY", "http://upper:1", 1);
  ::setenv("https_proxy", "http://lower:1", 1);
  ::unsetenv("HTTP_PROXY");
  ::setenv("http_proxy", "http://lower:2", 1);
  ::setenv("NO_PROXY", "", 1);
  ::setenv("no_proxy", "localhost", 1);
  auto c = ProxyConfig::fromEnvironment();
  EXPECT_EQ(c.https_proxy, "http://upper:1");
  EXPECT_EQ(c.http_proxy, "http://lower:2");
  EXPECT_EQ(c.no_proxy, "localhost") << "an empty variable counts as unset";
  for (const char* v : {"HTTPS_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy"}) ::unsetenv(v);
}

}  // namespace
}  // namespace berth::http
