#include "berth/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace berth::config {
namespace {

TEST(Config, EmbeddedDefaultServesOutOfTheBox) {
  auto c = loadDefault();
  EXPECT_EQ(c.server.listen, "0.0.0.0:5000");
  EXPECT_EQ(c.storage.root, "./data");
  ASSERT_EQ(c.repositories.size(), 1u);
  EXPECT_EQ(c.repositories[0].key, "docker-local");
  EXPECT_EQ(c.repositories[0].type, RepoType::Local);
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
  expectError("server: {listen: 'nohost'}", "test.yml: server.listen must be host:port");
  expectError("server: {listen: '1.2.3.4:99999'}", "test.yml: server.listen has an invalid port");
  expectError("log: {level: loud}", "test.yml: log.level");
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

TEST(Config, TrustedProxiesAreCidrBlocksCheckedAtLoad) {
  EXPECT_TRUE(loadDefault().server.trusted_proxies.empty()) << "nobody's X-Forwarded-* is believed by default";
  auto c = loadFromString("server: {trusted_proxies: [10.0.0.0/8, \"fd00::/8\", 192.0.2.1]}", "t");
  EXPECT_EQ(c.server.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8", "192.0.2.1"}));
  expectError("server: {trusted_proxies: [10.0.0.0/8, 10.0.0.0/33]}", "server.trusted_proxies[1]");
  expectError("server: {trusted_proxies: [proxy.example.com]}", "server.trusted_proxies[0]");
  expectError("server: {trusted_proxies: [10.1.2.3/8]}", "10.0.0.0/8");
  expectError("server: {trusted_proxies: {a: 1}}", "server.trusted_proxies");
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
