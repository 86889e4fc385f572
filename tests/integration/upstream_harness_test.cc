// Smoke tests of the upstreams the remote-repository tests pull through
// (support/distribution_registry.h, token_issuer.h, scripted_upstream.h,
// upstream_content.h): each piece does what those tests will rely on.
#include <gtest/gtest.h>

#include <thread>

#include "integration/auth_support.h"
#include "integration/support/distribution_registry.h"
#include "integration/support/scripted_upstream.h"
#include "integration/support/token_issuer.h"
#include "integration/support/upstream_content.h"

namespace berth::it {
namespace {

using namespace std::chrono_literals;

// Pulls an image's manifest and blobs back and compares them with what was pushed.
void expectPullable(ImageClient& image, const Image& img, const std::string& tag) {
  Response m = image.getManifest(tag);
  ASSERT_EQ(m.status, 200) << m.describe();
  EXPECT_EQ(m.body, img.manifest.bytes);
  EXPECT_EQ(m.header("Docker-Content-Digest"), img.manifest.digest);
  EXPECT_EQ(m.header("Content-Type"), img.manifest.media_type);
  std::vector<const Blob*> blobs{&img.config};
  for (const auto& l : img.layers) blobs.push_back(&l);
  for (const Blob* b : blobs) {
    Response r = image.getBlob(b->digest);
    EXPECT_EQ(r.status, 200) << b->digest << ": " << r.describe();
    EXPECT_EQ(r.body, b->bytes) << b->digest;
  }
}

// ---- docker-registry (distribution 2.8.2) ----

TEST(UpstreamHarness, DistributionPlainTakesImagesIndexesAndStreamedBlobs) {
  DistributionRegistry registry;
  HttpClient http = registry.client();
  ImageClient app(http, "/v2/team/app");

  Image img = makeImage(mt::kDockerManifest, 3);
  pushImageTo(app, img, "v1");
  expectPullable(app, img, "v1");

  MultiArch multi = makeMultiArch();
  pushMultiArch(app, multi, "multi");
  Response index = app.getManifest("multi");
  EXPECT_EQ(index.body, multi.index.bytes);
  EXPECT_EQ(index.header("Content-Type"), mt::kOciIndex);
  expectPullable(app, multi.images[1], multi.images[1].manifest.digest);

  GeneratedBlob big(24 << 20, 7);  // streamed up and hashed on the way down, never held whole
  EXPECT_EQ(uploadBlob(app, big).status, 201);
  PulledBlob pulled = pullHashed(http, "/v2/team/app/blobs/" + big.digest());
  EXPECT_EQ(pulled.status, 200);
  EXPECT_EQ(pulled.size, big.size());
  EXPECT_EQ(pulled.digest, big.digest());

  // Stopped, then started again on the same storage (and port, when free).
  uint16_t port = registry.port();
  registry.stop();
  EXPECT_THROW(http.get("/v2/"), std::runtime_error);
  registry.start();
  EXPECT_EQ(registry.port(), port);
  http.retarget(registry.host(), registry.port());
  expectPullable(app, img, "v1");
}

// Both ways distribution 2.8.2 finds the signing key (x5c, kid), both algorithms.
struct TokenCase {
  KeyType key;
  bool kid;
};
class DistributionTokenAuth : public ::testing::TestWithParam<TokenCase> {};

TEST_P(DistributionTokenAuth, RefusesWithoutATokenAndAcceptsTheIssuers) {
  TokenIssuerOptions o;
  o.key_type = GetParam().key;
  o.key_id_header = GetParam().kid;
  o.users = {{"pusher", "secret"}};
  TokenIssuer issuer(o);
  DistributionRegistry registry({.token_auth = &issuer});
  HttpClient http = registry.client();

  Response refused = http.get("/v2/app/tags/list");
  EXPECT_EQ(refused.status, 401);
  Challenge c = parseChallenge(refused.header("WWW-Authenticate"));
  EXPECT_EQ(c.scheme, "Bearer");
  EXPECT_EQ(c.params["realm"], issuer.realm());
  EXPECT_EQ(c.params["service"], issuer.service());
  EXPECT_EQ(c.params["scope"], "repository:app:pull");

  // A forged token (signed by another key with the same names) is refused.
  TokenIssuer impostor({.service = o.service, .issuer = o.issuer, .key_type = o.key_type, .key_id_header = o.key_id_header});
  EXPECT_EQ(http.get("/v2/app/tags/list", authit::bearerAuth(impostor.issue({"repository:app:pull"}, "x"))).status, 401);

  ImageClient app(http, "/v2/app");
  authorize(http, {"repository:app:pull,push"}, "pusher", "secret");
  Image img = makeImage();
  pushImageTo(app, img, "latest");

  // Anonymous: pull only.
  authorize(http, {"repository:app:pull,push"});
  expectPullable(app, img, "latest");
  EXPECT_EQ(app.startUpload().status, 401);
  EXPECT_GE(issuer.requests(), 2);
  EXPECT_EQ(issuer.log().back().user, "");
  EXPECT_EQ(issuer.log().back().service, issuer.service());
}

INSTANTIATE_TEST_SUITE_P(Keys, DistributionTokenAuth,
                         ::testing::Values(TokenCase{KeyType::Ec256, false}, TokenCase{KeyType::Ec256, true},
                                           TokenCase{KeyType::Rsa2048, false}, TokenCase{KeyType::Rsa2048, true}),
                         [](const auto& info) {
                           return std::string(info.param.key == KeyType::Ec256 ? "ES256" : "RS256") +
                                  (info.param.kid ? "_kid" : "_x5c");
                         });

TEST(UpstreamHarness, TokenIssuerRequiresCredentialsAndMintsShortTokens) {
  TokenIssuer issuer({.users = {{"u", "p"}}, .require_credentials = true, .expires_in = 7, .lifetime = -55});
  DistributionRegistry registry({.token_auth = &issuer});
  HttpClient http = registry.client();
  EXPECT_THROW(authorize(http, {"repository:app:pull"}), std::runtime_error);
  EXPECT_EQ(issuer.log().back().status, 401);

  // expires_in and exp differ on purpose: distribution allows 60 s past exp,
  // so this token works for about 5 s though the client was told 7.
  std::string token = authorize(http, {"repository:app:pull"}, "u", "p");
  auto claims = authit::Jwt::split(token).claims();
  EXPECT_TRUE(claims["aud"].is_string());
  EXPECT_EQ(http.get("/v2/app/tags/list").status, 404);  // authorized: the name is just unknown
  EXPECT_FALSE(issuer.accepts(token));                    // strict: already past exp

  // The OAuth2 form (what containerd posts with a password) works too.
  HttpClient to_issuer(parseUrl(issuer.realm()).host, parseUrl(issuer.realm()).port);
  Response form = to_issuer.post("/token", "grant_type=password&username=u&password=p&service=" + issuer.service() +
                                               "&scope=repository%3Aapp%3Apull+repository%3Aother%3Apull",
                                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(form.status, 200) << form.describe();
  EXPECT_EQ(issuer.log().back().scopes, (std::vector<std::string>{"repository:app:pull", "repository:other:pull"}));
  EXPECT_EQ(authit::Jwt::split(form.json()["access_token"]).claims()["access"].size(), 2u);
  std::this_thread::sleep_for(6s);
  EXPECT_EQ(http.get("/v2/app/tags/list").status, 401);
}

TEST(UpstreamHarness, DistributionOverTlsWithATestCa) {
  DistributionRegistry registry({.tls = true});
  EXPECT_TRUE(registry.url().starts_with("https://127.0.0.1:"));
  HttpClient http = registry.client();
  ImageClient app(http, "/v2/app");
  Image img = makeImage();
  pushImageTo(app, img, "v1");
  expectPullable(app, img, "v1");

  // By DNS name too, and refused against another CA.
  HttpClient by_name(registry.host(), registry.port(), true,
                     {.tls_ca_file = registry.caFile(), .tls_server_name = "localhost"});
  EXPECT_EQ(by_name.get("/v2/").status, 200);
  TlsFiles other = makeTlsFiles(registry.dir() + "/other");
  HttpClient wrong_ca(registry.host(), registry.port(), true, {.tls_ca_file = other.ca_file});
  EXPECT_THROW(wrong_ca.get("/v2/"), std::runtime_error);

  // A real client with the CA directory.
  std::string cmd = "skopeo inspect --raw --cert-dir '" + registry.certDir() + "' docker://" + registry.hostPort() +
                    "/app:v1 > '" + registry.dir() + "/inspect.json' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << readFile(registry.dir() + "/inspect.json");
  EXPECT_EQ(readFile(registry.dir() + "/inspect.json"), img.manifest.bytes);
}

TEST(UpstreamHarness, DistributionAsAPullThroughCache) {
  DistributionRegistry origin({.access_log = true});
  HttpClient to_origin = origin.client();
  ImageClient origin_app(to_origin, "/v2/library/alpine");
  Image img = makeImage(mt::kDockerManifest, 2);
  pushImageTo(origin_app, img, "3");

  DistributionRegistry cache({.proxy_remote_url = origin.url()});
  HttpClient to_cache = cache.client();
  ImageClient cached(to_cache, "/v2/library/alpine");
  expectPullable(cached, img, "3");
  // It stores what it served in the background, fetching each blob again.
  for (const Blob* b : {&img.config, &img.layers[0], &img.layers[1]})
    for (int i = 0; i < 1000 && !cache.hasBlob(b->digest); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(origin.requestsLogged("GET", "/v2/library/alpine/blobs/" + img.layers[0].digest), 2);
  origin.stop();
  expectPullable(cached, img, img.manifest.digest);  // by digest: from its cache
}

// ---- ScriptedUpstream ----

TEST(UpstreamHarness, ScriptedUpstreamServesContentAndCounts) {
  ScriptedUpstream up;
  Image img = makeImage();
  up.addImage("library/alpine", img, "3");
  HttpClient http(up.host(), up.port());
  ImageClient alpine(http, "/v2/library/alpine");
  expectPullable(alpine, img, "3");
  EXPECT_EQ(alpine.headManifest("3").header("Docker-Content-Digest"), img.manifest.digest);
  EXPECT_EQ(alpine.tags().json()["tags"], nlohmann::json::array({"3"}));
  std::string blob_path = "/v2/library/alpine/blobs/" + img.layers[0].digest;
  Response part = http.get(blob_path, {{"Range", "bytes=10-19"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, img.layers[0].bytes.substr(10, 10));
  EXPECT_EQ(up.count("GET", blob_path), 2);
  EXPECT_EQ(up.count("HEAD", "/v2/library/alpine/manifests/3"), 1);
  EXPECT_EQ(alpine.getManifest("nope").status, 404);
  EXPECT_EQ(alpine.getBlob(sha256Of("nope")).errorCode(), "BLOB_UNKNOWN");

  // A corrupt upstream: bytes that do not hash to the digest they are served under.
  std::string claimed = sha256Of("the real bytes");
  up.addBlobAs("app", claimed, "something else");
  Response wrong = http.get("/v2/app/blobs/" + claimed);
  EXPECT_EQ(wrong.header("Docker-Content-Digest"), claimed);
  EXPECT_NE(sha256Of(wrong.body), claimed);

  // A generated blob streams.
  auto big = std::make_shared<const GeneratedBlob>(8 << 20, 3);
  up.addGeneratedBlob("app", big);
  PulledBlob pulled = pullHashed(http, "/v2/app/blobs/" + big->digest());
  EXPECT_EQ(pulled.digest, big->digest());
  EXPECT_EQ(pulled.size, big->size());
}

TEST(UpstreamHarness, ScriptedUpstreamFaults) {
  ScriptedUpstream up;
  Image img = makeImage(mt::kOciManifest, 1);
  up.addImage("app", img, "v1");
  const std::string blob = "/v2/app/blobs/" + img.layers[0].digest;
  HttpClient http(up.host(), up.port());

  up.on("GET", "/v2/app/manifests/v1",
        scripted::sequence({scripted::tooManyRequests(7), scripted::status(503), up.content()}));
  Response limited = http.get("/v2/app/manifests/v1");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.header("Retry-After"), "7");
  EXPECT_EQ(limited.errorCode(), "TOOMANYREQUESTS");
  EXPECT_EQ(http.get("/v2/app/manifests/v1").status, 503);
  EXPECT_EQ(http.get("/v2/app/manifests/v1").body, img.manifest.bytes);
  EXPECT_EQ(http.get("/v2/app/manifests/v1").body, img.manifest.bytes);  // the last one repeats

  up.on("GET", blob, scripted::cutAfter(100, up.content()));
  EXPECT_THROW(http.get(blob), std::runtime_error);  // "closed in the middle of a response body"
  up.on("GET", blob, scripted::hangUp());
  EXPECT_THROW(http.get(blob), std::runtime_error);

  up.on("GET", blob, scripted::stallAfter(100, 300ms, up.content()));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(http.get(blob).body, img.layers[0].bytes);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);

  up.on("*", "/v2/other/*", scripted::status(500));
  EXPECT_EQ(http.get("/v2/other/manifests/x").status, 500);
  EXPECT_EQ(http.head("/v2/other/blobs/y").status, 500);

  // A stall that outlives the server ends when it stops.
  up.on("GET", "/v2/slow/manifests/x", scripted::stall(1h));
  std::thread waiter([&] {
    HttpClient slow(up.host(), up.port());
    EXPECT_THROW(slow.get("/v2/slow/manifests/x"), std::runtime_error);
  });
  while (up.count("/v2/slow/manifests/x") == 0) std::this_thread::sleep_for(10ms);
  up.stop();
  waiter.join();
  EXPECT_THROW(HttpClient(up.host(), up.port()).get("/v2/"), std::runtime_error);
}

TEST(UpstreamHarness, ScriptedUpstreamBearerChallengeAndRedirectToAnotherOrigin) {
  TokenIssuer issuer({.service = "scripted"});
  ScriptedUpstream up, cdn("127.0.0.2");
  Image img = makeImage(mt::kOciManifest, 1);
  up.addImage("app", img, "v1");
  up.requireBearer(issuer.realm(), "scripted", [&](const std::string& t) { return issuer.accepts(t); });
  const std::string blob = "/v2/app/blobs/" + img.layers[0].digest;
  cdn.addBlob("app", img.layers[0].bytes);
  up.on("GET", blob, scripted::redirect(cdn.url()));

  HttpClient http(up.host(), up.port());
  Response challenged = http.get("/v2/app/manifests/v1");
  EXPECT_EQ(challenged.status, 401);
  EXPECT_EQ(challenged.header("WWW-Authenticate"),
            "Bearer realm=\"" + issuer.realm() + "\",service=\"scripted\",scope=\"repository:app:pull\"");

  authorize(http, {"repository:app:pull"});
  EXPECT_EQ(http.get("/v2/app/manifests/v1").status, 200);
  Response moved = http.get(blob);
  EXPECT_EQ(moved.status, 302);
  Url location = parseUrl(moved.header("Location"));
  EXPECT_EQ(location.host, "127.0.0.2");
  HttpClient to_cdn(location.host, location.port);
  EXPECT_EQ(to_cdn.get(location.target).body, img.layers[0].bytes);
  EXPECT_EQ(cdn.count("GET", blob), 1);
  EXPECT_FALSE(cdn.requests()[0].headers.has("Authorization"));

  issuer.revokeAll();  // every token now fails: what an expiry mid-pull looks like
  EXPECT_EQ(http.get("/v2/app/manifests/v1").status, 401);
  EXPECT_EQ(up.count("GET", "/v2/app/manifests/v1"), 3);
}

// ---- Berth with security on, as an upstream ----

TEST(UpstreamHarness, BerthWithSecurityOnTakesAPushThroughTheTokenHandshake) {
  Daemon berth(DaemonOptions{{"docker-local", "docker-dev", "docker-prod"}});
  authit::SecurityOptions security;
  security.anonymous_access = false;
  writeFile(berth.configPath(), authit::configYaml(security, berth.storageRoot()));
  berth.start();
  HttpClient http(berth.host(), berth.port());
  ImageClient app(http, "/v2/docker-dev/app");
  EXPECT_EQ(http.get("/v2/").status, 401);

  authorize(http, {"repository:docker-dev/app:pull,push"}, "deployer", authit::pw("deployer"));
  MultiArch multi = makeMultiArch(mt::kDockerList);
  pushMultiArch(app, multi, "v1");
  Response index = app.getManifest("v1");
  EXPECT_EQ(index.body, multi.index.bytes);

  authorize(http, {"repository:docker-dev/app:pull"}, "reader", authit::pw("reader"));
  expectPullable(app, multi.images[0], multi.images[0].manifest.digest);
  EXPECT_EQ(berth.stop(), 0);
}

}  // namespace
}  // namespace berth::it
