// server.subdomain_base (docs/configuration.md): a request whose Host is
// <repoKey>.<base> addresses that repository as /v2/<image>/..., as the
// repository's own port does; every other Host gets the main routes. The
// clients here send the Host a client that resolved the name would send.
#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

using namespace authit;

DaemonOptions withSubdomains() {
  DaemonOptions o;
  o.server_extra = "subdomain_base: registry.test";
  return o;
}

class SubdomainTest : public RegistryTest {
 protected:
  SubdomainTest() : RegistryTest(withSubdomains()) {}
  void SetUp() override {
    RegistryTest::SetUp();
    dev_http_.retarget(daemon_.host(), daemon_.port());
    dev_http_.setHostHeader("docker-dev.registry.test:" + std::to_string(daemon_.port()));
  }
  void TearDown() override {
    dev_http_.close();
    RegistryTest::TearDown();
  }
  // A client whose requests name `host`.
  HttpClient named(const std::string& host) {
    HttpClient c(daemon_.host(), daemon_.port());
    c.setHostHeader(host);
    return c;
  }

  HttpClient dev_http_{"127.0.0.1", 0};
};

TEST_F(SubdomainTest, TheSubdomainAddressesItsRepository) {
  Image img = makeImage();
  ImageClient on_dev(dev_http_, "/v2/library/alpine");
  on_dev.pushImage(img, "3");
  // Stored in docker-dev, as pushed to /v2/docker-dev/library/alpine.
  auto via_path = image("/v2/docker-dev/library/alpine").getManifest("3");
  ASSERT_EQ(via_path.status, 200) << via_path.describe();
  EXPECT_EQ(via_path.body, img.manifest.bytes);
  EXPECT_API_ERROR(image("/v2/docker-local/library/alpine").getManifest("3"), 404, "MANIFEST_UNKNOWN");
  // Pulled back by the bare name, blobs included; URLs keep the layout.
  EXPECT_EQ(on_dev.getManifest("3").header("Docker-Content-Digest"), img.manifest.digest);
  EXPECT_EQ(on_dev.getBlob(img.layers[0].digest).body, img.layers[0].bytes);
  auto started = on_dev.startUpload();
  EXPECT_TRUE(pathOf(started.header("Location")).starts_with("/v2/library/alpine/blobs/uploads/"))
      << started.describe();
  EXPECT_EQ(on_dev.tags().json()["name"], "library/alpine");
  auto catalog = dev_http_.get("/v2/_catalog");
  EXPECT_EQ(catalog.json()["repositories"], nlohmann::json::array({"library/alpine"})) << catalog.describe();
}

TEST_F(SubdomainTest, OtherHostsGetTheMainRoutes) {
  Image img = makeImage();
  local_.pushImage(img, "1");  // /v2/docker-local/app
  for (const std::string host : {"registry.test", "127.0.0.1", "elsewhere.example.com", "a.b.registry.test"}) {
    auto c = named(host);
    auto r = ImageClient(c, "/v2/docker-local/app").getManifest("1");
    EXPECT_EQ(r.status, 200) << host << ": " << r.describe();
  }
  // Case does not matter in host names.
  auto upper = named("DOCKER-LOCAL.Registry.Test");
  EXPECT_EQ(ImageClient(upper, "/v2/app").getManifest("1").status, 200);
  // A label that is no repository key: as an unknown key in a path.
  auto unknown = named("nope.registry.test");
  EXPECT_API_ERROR(ImageClient(unknown, "/v2/app").getManifest("1"), 404, "NAME_UNKNOWN");
  auto odd = named("bad_label!.registry.test");
  EXPECT_EQ(ImageClient(odd, "/v2/docker-local/app").getManifest("1").status, 200)
      << "a label that cannot be a key is no subdomain";
}

// With security on: the challenge sends a client to the subdomain's own token
// endpoint, whose scopes name images of that repository, and permissions hold
// exactly as through the path form.
class SubdomainAuthTest : public SecureTest {
 protected:
  void SetUp() override {
    std::string y = configYaml(opts_, daemon_.storageRoot());
    const std::string grace = "shutdown_grace_seconds: 5\n";
    y.replace(y.find(grace), grace.size(), grace + "  subdomain_base: registry.test\n");
    writeFile(daemon_.configPath(), y);
    daemon_.start();
    http_.retarget(daemon_.host(), daemon_.port());
    dev_.retarget(daemon_.host(), daemon_.port());
    dev_.setHostHeader(devHost());
  }
  void TearDown() override {
    dev_.close();
    SecureTest::TearDown();
  }
  std::string devHost() const { return "docker-dev.registry.test:" + std::to_string(daemon_.port()); }

  HttpClient dev_{"127.0.0.1", 0};
};

TEST_F(SubdomainAuthTest, TokensFromTheSubdomainNameItsImages) {
  auto m = dev_.get("/v2/app/manifests/1");
  EXPECT_EQ(m.status, 401) << m.describe();
  EXPECT_EQ(m.header("WWW-Authenticate"), "Bearer realm=\"http://" + devHost() + "/v2/token\",service=\"" +
                                              devHost() + "\",scope=\"repository:app:pull\"");
  auto t = As(dev_, basicAuth("deployer")).get("/v2/token?service=" + devHost() + "&scope=repository:app:pull,push");
  ASSERT_EQ(t.status, 200) << t.describe();
  std::string token = t.json().value("token", "");
  auto claims = Jwt::split(token).claims();
  EXPECT_EQ(claims["access"], nlohmann::json::parse(
                                  R"([{"type":"repository","name":"docker-dev/app","actions":["pull","push"]}])"));
  Image img = makeImage();
  As bearer(dev_, bearerAuth(token));
  EXPECT_EQ(bearer.pushImage("/v2/app", img, "1").status, 201);
  EXPECT_EQ(as("reader").getManifest("/v2/docker-dev/app", "1").status, 200);
  // docker-prod's subdomain: the deployer has no right there.
  HttpClient prod(daemon_.host(), daemon_.port());
  prod.setHostHeader("docker-prod.registry.test");
  EXPECT_EQ(As(prod, basicAuth("deployer")).pushImage("/v2/app", img, "1").status, 403);
}

}  // namespace
}  // namespace berth::it
