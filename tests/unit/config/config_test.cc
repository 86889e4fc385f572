#include "berth/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

namespace berth::config {
namespace {

TEST(Config, EmbeddedDefaultServesOutOfTheBox) {
  auto c = loadDefault();
  EXPECT_EQ(c.server.listen, "0.0.0.0:5000");
  EXPECT_EQ(c.storage.root, "./data");
  // Artifactory's Docker quick setup: local, remote of Docker Hub, virtual over both.
  ASSERT_EQ(c.repositories.size(), 3u);
  EXPECT_EQ(c.repositories[0].key, "docker-local");
  EXPECT_EQ(c.repositories[0].type, RepoType::Local);
  EXPECT_EQ(c.repositories[1].key, "docker-remote");
  EXPECT_EQ(c.repositories[1].type, RepoType::Remote);
  EXPECT_EQ(c.repositories[1].remote.url, "https://registry-1.docker.io");
  EXPECT_EQ(c.repositories[2].key, "docker");
  EXPECT_EQ(c.repositories[2].type, RepoType::Virtual);
  EXPECT_EQ(c.repositories[2].virt.repositories, (std::vector<std::string>{"docker-local", "docker-remote"}));
  EXPECT_EQ(c.repositories[2].virt.default_deployment_repo, "docker-local");
}

TEST(Config, EnvironmentOverrides) {
  ::setenv("BERTH_LISTEN", "127.0.0.1:6000", 1);
  ::setenv("BERTH_STORAGE_ROOT", "/tmp/x", 1);
  auto c = loadDefault();
  ::unsetenv("BERTH_LISTEN");
  ::unsetenv("BERTH_STORAGE_ROOT");
  EXPECT_EQ(c.server.listen, "127.0.0.1:6000");
  EXPECT_EQ(c.storage.root, "/tmp/x");
}

void expectError(const std::string& yaml, const std::string& fragment) {
  try {
    loadFromString(yaml, "test.yml");
    ADD_FAILURE() << "accepted: " << yaml;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Config, RefusesBadFilesWithAClearMessage) {
  expectError("repositories: [{key: docker_local}]", "'_'");
  expectError("repositories: [{key: Docker}]", "Docker");
  expectError("repositories: [{key: a}, {key: a}]", "twice");
  expectError("server: {listen: 'nohost'}", "host:port");
  expectError("server: {listen: '1.2.3.4:99999'}", "port");
  expectError("server: {lisen: ':5000'}", "server.lisen");
  expectError("repositories: [{key: r, type: magic}]", "type");
  expectError("server: [1, 2]", "server");
  expectError("server: {workers: many}", "server.workers");
  expectError("server: [", "YAML");
}

// Found by tests/fuzz/config_fuzz.cc: a bad server.listen was the one error
// that did not say which file it came from.
TEST(Config, EveryErrorNamesTheFile) {
  expectError("server: {listen: 'nohost'}", "test.yml:1:18: server.listen must be host:port");
  expectError("server: {listen: '1.2.3.4:99999'}", "test.yml:1:18: server.listen has an invalid port");
  expectError("log: {level: loud}", "test.yml:1:14: log.level");
}

TEST(Config, UploadCapsAndMetadataSync) {
  auto d = loadDefault();
  EXPECT_EQ(d.storage.max_uploads_per_repository, 1000u);
  EXPECT_EQ(d.storage.max_uploads_per_user, 100u);
  EXPECT_EQ(d.storage.metadata_sync, "full");
  EXPECT_EQ(loadFromString("storage: {}", "t.yml").storage.metadata_sync, "full") << "durable unless asked";
  auto c = loadFromString("storage: {max_uploads_per_repository: 7, max_uploads_per_user: 0, metadata_sync: normal}",
                          "t.yml");
  EXPECT_EQ(c.storage.max_uploads_per_repository, 7u);
  EXPECT_EQ(c.storage.max_uploads_per_user, 0u);
  EXPECT_EQ(c.storage.metadata_sync, "normal");
  expectError("storage: {metadata_sync: off}", "storage.metadata_sync");
  expectError("storage: {metadata_sync: FULL}", "storage.metadata_sync");
  expectError("storage: {max_uploads_per_user: lots}", "storage.max_uploads_per_user");
  expectError("storage: {max_uploads_per_repository: -1}", "storage.max_uploads_per_repository");
}

TEST(Config, UploadCacheBudget) {
  EXPECT_EQ(loadDefault().storage.upload_cache_mib, 2048u);
  EXPECT_EQ(loadFromString("storage: {}", "t.yml").storage.upload_cache_mib, 2048u);
  EXPECT_EQ(loadFromString("storage: {upload_cache_mib: 0}", "t.yml").storage.upload_cache_mib, 0u);
  expectError("storage: {upload_cache_mib: -5}", "storage.upload_cache_mib");
}

TEST(Config, ReadinessFloorAndShutdownDelay) {
  EXPECT_EQ(loadDefault().storage.ready_min_free_bytes, 64ull << 20);
  EXPECT_EQ(loadFromString("storage: {}", "t.yml").storage.ready_min_free_bytes, 64ull << 20);
  EXPECT_EQ(loadFromString("storage: {ready_min_free_bytes: 0}", "t.yml").storage.ready_min_free_bytes, 0u);
  EXPECT_EQ(loadFromString("storage: {ready_min_free_bytes: 1152921504606846976}", "t.yml").storage.ready_min_free_bytes,
            1ull << 60);
  expectError("storage: {ready_min_free_bytes: -1}", "storage.ready_min_free_bytes");
  EXPECT_EQ(loadDefault().server.shutdown_delay_seconds, 0u);
  EXPECT_EQ(loadFromString("server: {shutdown_delay_seconds: 15}", "t.yml").server.shutdown_delay_seconds, 15u);
  expectError("server: {shutdown_delay_seconds: 3601}", "server.shutdown_delay_seconds");
}

TEST(Config, TrustedProxiesAreCidrBlocksCheckedAtLoad) {
  EXPECT_TRUE(loadDefault().server.trusted_proxies.empty()) << "nobody's X-Forwarded-* is believed by default";
  auto c = loadFromString("server: {trusted_proxies: [10.0.0.0/8, \"fd00::/8\", 192.0.2.1]}", "t");
  EXPECT_EQ(c.server.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8", "192.0.2.1"}));
  expectError("server: {trusted_proxies: [10.0.0.0/8, 10.0.0.0/33]}", "server.trusted_proxies[1]");
  expectError("server: {trusted_proxies: [proxy.example.com]}", "server.trusted_proxies[0]");
  expectError("server: {trusted_proxies: [10.1.2.3/8]}", "10.0.0.0/8");
  expectError("server: {trusted_proxies: {a: 1}}", "server.trusted_proxies");
}

TEST(Config, SubdomainBaseIsADnsName) {
  EXPECT_EQ(loadDefault().server.subdomain_base, "") << "off by default";
  EXPECT_EQ(loadFromString("server: {subdomain_base: registry.example.com}", "t").server.subdomain_base,
            "registry.example.com");
  EXPECT_EQ(loadFromString("server: {subdomain_base: localhost}", "t").server.subdomain_base, "localhost");
  for (const char* bad : {"registry.example.com:5000", "https://registry.example.com", ".example.com",
                          "example.com.", "a..b", "-x.example.com", "x-.example.com", "bad_name.com", "a b"})
    expectError(std::string("server: {subdomain_base: \"") + bad + "\"}", "server.subdomain_base");
}

// Writes `text` to a fresh file under /tmp and removes it when destroyed.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/berth-config-test-XXXXXX";
    int fd = ::mkstemp(tmpl);
    path_ = tmpl;
    if (fd >= 0) {
      [[maybe_unused]] auto n = ::write(fd, text.data(), text.size());
      ::close(fd);
    }
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string remote(const std::string& extra) { return "repositories: [{key: hub, type: remote" + extra + "}]"; }

TEST(RemoteConfig, DefaultsAndEveryKey) {
  auto d = loadFromString(remote(""), "t").repositories.at(0);
  EXPECT_EQ(d.type, RepoType::Remote);
  EXPECT_EQ(d.remote.url, "https://registry-1.docker.io");
  EXPECT_EQ(d.remote.metadata_ttl_seconds, 21600u);
  EXPECT_EQ(d.remote.timeout_seconds, 60u);
  EXPECT_EQ(d.remote.max_blob_bytes, uint64_t(64) << 30);
  EXPECT_FALSE(d.remote.offline);
  EXPECT_EQ(d.remote.cache_retention_hours, 0u) << "kept for ever";
  EXPECT_FALSE(d.remote.foreign_layers.enabled);
  EXPECT_EQ(d.remote.foreign_layers.include, std::vector<std::string>{"**"});
  EXPECT_EQ(d.port, 0u);
  TempFile ca("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  auto r = loadFromString(remote(", url: \"HTTPS://ghcr.io:8443/\", username: u, password: p, metadata_ttl_seconds: 0,"
                                 " offline: true, timeout_seconds: 5, ca_file: \"" + ca.path() + "\", port: 5001,"
                                 " max_blob_bytes: 107374182400, cache_retention_hours: 168,"
                                 " foreign_layers: {enabled: true, include: [\"**/mcr.microsoft.com/**\"]}"),
                          "t")
               .repositories.at(0);
  EXPECT_EQ(r.remote.url, "https://ghcr.io:8443") << "scheme lower-cased, trailing '/' dropped";
  EXPECT_EQ(r.remote.username, "u");
  EXPECT_EQ(r.remote.password, "p");
  EXPECT_EQ(r.remote.metadata_ttl_seconds, 0u);
  EXPECT_TRUE(r.remote.offline);
  EXPECT_EQ(r.remote.timeout_seconds, 5u);
  EXPECT_EQ(r.remote.max_blob_bytes, 107374182400u) << "more than 32 bits";
  EXPECT_EQ(r.remote.cache_retention_hours, 168u);
  EXPECT_EQ(r.remote.ca_file, ca.path());
  EXPECT_EQ(r.port, 5001u);
  EXPECT_TRUE(r.remote.foreign_layers.enabled);
  EXPECT_EQ(r.remote.foreign_layers.include, std::vector<std::string>{"**/mcr.microsoft.com/**"});
}

TEST(RemoteConfig, UrlsWithAPathPrefixPortOrIpv6AreKept) {
  auto url = [](const std::string& u) { return loadFromString(remote(", url: \"" + u + "\""), "t").repositories[0].remote.url; };
  EXPECT_EQ(url("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
  EXPECT_EQ(url("https://example.com/artifactory/api/docker/hub//"), "https://example.com/artifactory/api/docker/hub");
  EXPECT_EQ(url("http://[::1]:8080/"), "http://[::1]:8080");
  EXPECT_EQ(url("https://registry-1.docker.io"), "https://registry-1.docker.io");
}

TEST(RemoteConfig, RefusesUnusableUrls) {
  auto bad_url = [](const std::string& u, const std::string& fragment) {
    SCOPED_TRACE(u);
    expectError(remote(", url: \"" + u + "\""), fragment);
  };
  bad_url("", "repositories[0].url must not be empty");
  bad_url("ftp://example.com", "http:// or https://");
  bad_url("example.com", "http:// or https://");
  bad_url("https://", "host is missing");
  bad_url("https:///v2", "host is missing");
  bad_url("https://:5000", "host is missing");
  bad_url("https://example.com:", "port");
  bad_url("https://example.com:0", "port");
  bad_url("https://example.com:65536", "port");
  bad_url("https://example.com:http", "port");
  bad_url("https://exa mple.com", "spaces");
  bad_url("https://ex!ample.com", "host");
  bad_url("https://[::1", "IPv6");
  bad_url("https://example.com/v2?x=1", "query");
  bad_url("https://example.com/#top", "fragment");
  bad_url("https://user:secret@example.com", "credentials");
  try {
    loadFromString(remote(", url: \"https://user:s3cr3t@example.com\""), "t");
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).find("s3cr3t"), std::string::npos) << "a password in a URL is never echoed";
  }
}

TEST(RemoteConfig, CredentialsExpandEnvironmentVariables) {
  ::setenv("BERTH_TEST_USER", "robot", 1);
  ::setenv("BERTH_TEST_PASS", "pa$$word", 1);
  ::unsetenv("BERTH_TEST_UNSET");
  auto r = loadFromString(remote(", username: \"${BERTH_TEST_USER}\", password: \"x-${BERTH_TEST_PASS}-${BERTH_TEST_USER}\""), "t")
               .repositories[0];
  EXPECT_EQ(r.remote.username, "robot");
  EXPECT_EQ(r.remote.password, "x-pa$$word-robot") << "a '$' in a value is not expanded again";
  EXPECT_EQ(loadFromString(remote(", username: u, password: \"a$b\""), "t").repositories[0].remote.password, "a$b");
  expectError(remote(", username: u, password: \"${BERTH_TEST_UNSET}\""),
              "repositories[0].password refers to the environment variable BERTH_TEST_UNSET, which is not set");
  expectError(remote(", username: \"${BERTH_TEST_UNSET}\", password: p"), "repositories[0].username");
  expectError(remote(", username: u, password: \"${BERTH_TEST_PASS\""), "closing '}'");
  expectError(remote(", username: u, password: \"${}\""), "malformed");
  expectError(remote(", username: u"), "username and password go together");
  try {
    loadFromString(remote(", username: \"${BERTH_TEST_USER}\", password: \"${BERTH_TEST_UNSET}\""), "t");
    ADD_FAILURE() << "accepted an unset variable";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).find("robot"), std::string::npos) << "values never appear in errors: " << e.what();
  }
  ::unsetenv("BERTH_TEST_USER");
  ::unsetenv("BERTH_TEST_PASS");
}

TEST(RemoteConfig, RefusesBadValuesAndUnknownKeys) {
  expectError(remote(", timeout_seconds: 0"), "repositories[0].timeout_seconds must be at least 1");
  expectError(remote(", ca_file: /nonexistent/ca.pem"), "repositories[0].ca_file '/nonexistent/ca.pem'");
  expectError(remote(", ca_file: /tmp"), "repositories[0].ca_file");
  TempFile not_pem("hello");
  expectError(remote(", ca_file: \"" + not_pem.path() + "\""), "no PEM certificate");
  expectError(remote(", upstream: x"), "unknown key repositories[0].upstream");
  expectError(remote(", foreign_layers: {enabled: true, exclude: [a]}"), "repositories[0].foreign_layers.exclude");
  expectError(remote(", foreign_layers: true"), "repositories[0].foreign_layers must be a mapping");
  expectError(remote(", foreign_layers: {include: [\"\"]}"), "include[0] is empty");
  expectError(remote(", offline: maybe"), "repositories[0].offline");
  expectError(remote(", max_blob_bytes: 0"), "repositories[0].max_blob_bytes must be at least 1");
  expectError(remote(", max_blob_bytes: -1"), "repositories[0].max_blob_bytes");
  expectError(remote(", max_blob_bytes: 64GiB"), "repositories[0].max_blob_bytes");
  expectError(remote(", cache_retention_hours: -1"), "repositories[0].cache_retention_hours");
  expectError(remote(", cache_retention_hours: 1d"), "repositories[0].cache_retention_hours");
}

TEST(RemoteConfig, RemoteKeysAreRefusedOnALocalRepository) {
  for (const char* k : {"url: \"http://a\"", "username: u", "password: p", "metadata_ttl_seconds: 1", "offline: true",
                        "timeout_seconds: 1", "ca_file: x", "foreign_layers: {}", "max_blob_bytes: 1",
                        "cache_retention_hours: 1"}) {
    SCOPED_TRACE(k);
    std::string key(k, std::string_view(k).find(':'));
    expectError(std::string("repositories: [{key: l, type: local, ") + k + "}]",
                "repositories[0]." + key + " applies only to a remote repository");
    expectError(std::string("repositories: [{key: l, ") + k + "}]", "only to a remote");  // local by default
  }
}

TEST(RepositoryPort, AnyRepositoryMayHaveOneUniquePort) {
  auto c = loadFromString("server: {listen: \"127.0.0.1:5000\"}\n"
                          "repositories: [{key: l, port: 5001}, {key: r, type: remote, port: 5002}, {key: x}]",
                          "t");
  EXPECT_EQ(c.repositories[0].port, 5001u);
  EXPECT_EQ(c.repositories[1].port, 5002u);
  EXPECT_EQ(c.repositories[2].port, 0u);
  EXPECT_EQ(loadFromString("repositories: [{key: a, port: 0}, {key: b, port: 0}]", "t").repositories[1].port, 0u)
      << "0 means no listener, so it may repeat";
  expectError("repositories: [{key: a, port: 65536}]", "repositories[0].port must be 1..65535");
  expectError("repositories: [{key: a, port: -1}]", "repositories[0].port must be 1..65535");
  expectError("repositories: [{key: a, port: many}]", "repositories[0].port has the wrong type");
  expectError("server: {listen: \"0.0.0.0:5000\"}\nrepositories: [{key: a, port: 5000}]",
              "repositories[0].port 5000 of 'a' is server.listen's port");
  expectError("repositories: [{key: a, port: 5001}, {key: b, type: remote, port: 5001}]",
              "repositories[1].port 5001 of 'b' is also the port of repository 'a'");
  ::setenv("BERTH_LISTEN", "127.0.0.1:5003", 1);  // the override is what will be bound
  try {
    loadFromString("repositories: [{key: a, port: 5003}]", "t");
    ADD_FAILURE() << "accepted the port BERTH_LISTEN names";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("server.listen"), std::string::npos) << e.what();
  }
  ::unsetenv("BERTH_LISTEN");
}

TEST(Config, ParseListen) {
  EXPECT_EQ(parseListen("127.0.0.1:0").port, 0);
  EXPECT_EQ(parseListen("[::1]:5000").host, "::1");
  EXPECT_EQ(parseListen(":5000").host, "0.0.0.0");
}

}  // namespace
}  // namespace berth::config

namespace berth::config {
namespace {

TEST(SecurityConfig, ParsesUsersGroupsPermissions) {
  auto c = loadFromString(R"(
repositories: [{key: docker-dev}]
security:
  anonymous_access: false
  force_authentication: [docker-dev]
  token: {expiry_seconds: 60}
  users: [{name: alice, password_hash: "$2y$05$abcdefghijklmnopqrstuu", groups: [devs]}, {name: gone, disabled: true}]
  groups: [{name: devs, admin: false}]
  permissions:
    - name: p
      repositories: [docker-dev]
      include: ["team/**"]
      users: {alice: [read, deploy]}
      groups: {devs: [delete]}
)", "t");
  EXPECT_TRUE(c.security.enabled);
  EXPECT_FALSE(c.security.anonymous_access);
  EXPECT_EQ(c.security.force_authentication_repos, std::vector<std::string>{"docker-dev"});
  EXPECT_EQ(c.security.token_expiry_seconds, 60u);
  ASSERT_EQ(c.security.permissions.size(), 1u);
  EXPECT_EQ(c.security.permissions[0].users.at("alice").size(), 2u);
  ASSERT_EQ(c.security.users.size(), 2u);
  EXPECT_FALSE(c.security.users[0].disabled);
  EXPECT_TRUE(c.security.users[1].disabled);
}

TEST(SecurityConfig, NoSectionMeansOpenAndTheDefaultIsSecured) {
  EXPECT_FALSE(loadFromString("repositories: [{key: a}]", "t").security.enabled);
  EXPECT_TRUE(loadDefault().security.enabled);
}

TEST(SecurityConfig, RefusesMistakes) {
  expectError("security: {users: [{name: a, password_hash: plain}]}", "bcrypt");
  expectError("security: {users: [{name: anonymous}]}", "anonymous");
  expectError("security: {permissions: [{name: p, repositories: [nope]}]}", "nope");
  expectError("security: {permissions: [{name: p, users: {a: [fly]}}]}", "fly");
  expectError("security: {force_authentication: [nope]}", "nope");
  expectError("server: {tls: {cert: a.pem}}", "tls");
}

}  // namespace
}  // namespace berth::config
