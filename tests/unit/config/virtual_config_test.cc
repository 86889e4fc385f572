// Virtual repositories in the config: members, cycles, the deployment
// repository, and messages that say where the problem is.
#include <gtest/gtest.h>

#include "berth/config.h"

namespace berth::config {
namespace {

void expectRefused(const std::string& yaml, const std::vector<std::string>& fragments) {
  try {
    loadFromString(yaml, "t.yml");
    ADD_FAILURE() << "accepted:\n" << yaml;
  } catch (const std::runtime_error& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

const char* kLocals =
    "repositories:\n"
    "  - {key: docker-local, type: local}\n"
    "  - {key: docker-dev, type: local}\n"
    "  - {key: hub, type: remote}\n";

TEST(VirtualConfig, EveryKeyAndItsDefaults) {
  auto c = loadFromString(std::string(kLocals) +
                              "  - key: docker\n    type: virtual\n    repositories: [docker-local, hub]\n"
                              "    default_deployment_repo: docker-local\n"
                              "    resolve_tags_by_latest_timestamp: true\n"
                              "  - {key: bare, type: virtual}\n",
                          "t.yml");
  const auto& v = c.repositories.at(3);
  EXPECT_EQ(v.type, RepoType::Virtual);
  EXPECT_EQ(v.virt.repositories, (std::vector<std::string>{"docker-local", "hub"}));
  EXPECT_EQ(v.virt.default_deployment_repo, "docker-local");
  EXPECT_TRUE(v.virt.resolve_tags_by_latest_timestamp);
  EXPECT_EQ(v.line, 5);
  const auto& bare = c.repositories.at(4);
  EXPECT_TRUE(bare.virt.repositories.empty());
  EXPECT_TRUE(bare.virt.default_deployment_repo.empty());
  EXPECT_FALSE(bare.virt.resolve_tags_by_latest_timestamp);
}

TEST(VirtualConfig, MembersMayBeDefinedLaterAndNested) {
  auto c = loadFromString(
      "repositories:\n"
      "  - {key: outer, type: virtual, repositories: [inner, docker-dev], default_deployment_repo: docker-local}\n"
      "  - {key: inner, type: virtual, repositories: [docker-local]}\n"
      "  - {key: docker-local, type: local}\n"
      "  - {key: docker-dev, type: local}\n",
      "t.yml");
  EXPECT_EQ(c.repositories.at(0).virt.default_deployment_repo, "docker-local") << "reachable through inner";
}

TEST(VirtualConfig, AnUnknownMemberIsRefusedWithItsLine) {
  expectRefused(std::string(kLocals) + "  - {key: docker, type: virtual, repositories: [docker-local, nope]}\n",
                {"t.yml:5:5: repositories[3] 'docker'", "member 'nope'"});
}

TEST(VirtualConfig, CyclesAreRefused) {
  expectRefused(std::string(kLocals) + "  - {key: docker, type: virtual, repositories: [docker]}\n",
                {"'docker'", "its own member"});
  expectRefused(std::string(kLocals) +
                    "  - {key: a, type: virtual, repositories: [docker-local, b]}\n"
                    "  - {key: b, type: virtual, repositories: [c]}\n"
                    "  - {key: c, type: virtual, repositories: [a]}\n",
                {"t.yml:5:5: ", "lead back", "a -> b -> c -> a"});
  expectRefused(std::string(kLocals) + "  - {key: d, type: virtual, repositories: [docker-local, docker-local]}\n",
                {"listed twice"});
}

TEST(VirtualConfig, TheDeploymentRepositoryIsALocalMember) {
  expectRefused(std::string(kLocals) +
                    "  - {key: d, type: virtual, repositories: [docker-local], default_deployment_repo: nope}\n",
                {"t.yml:5:5: ", "default_deployment_repo 'nope'", "not a repository"});
  expectRefused(std::string(kLocals) +
                    "  - {key: d, type: virtual, repositories: [docker-local], default_deployment_repo: docker-dev}\n",
                {"default_deployment_repo 'docker-dev'", "not one of its members"});
  expectRefused(std::string(kLocals) +
                    "  - {key: d, type: virtual, repositories: [docker-local, hub], default_deployment_repo: hub}\n",
                {"default_deployment_repo 'hub'", "not a local repository"});
}

TEST(VirtualConfig, VirtualKeysBelongToVirtualRepositoriesOnly) {
  expectRefused("repositories:\n  - {key: docker-local, type: local, repositories: [x]}\n",
                {"repositories[0].repositories applies only to a virtual repository", "'docker-local' is local"});
  expectRefused("repositories:\n  - {key: v, type: virtual, url: \"http://127.0.0.1:1\"}\n",
                {"url applies only to a remote repository"});
  expectRefused("repositories:\n  - {key: v, type: virtual, repositories: docker-local}\n", {"wrong type"});
}

}  // namespace
}  // namespace berth::config

namespace berth::config {
namespace {

// Regression (attack on issue 9): a 2,000-deep chain was accepted and a read
// through it overflowed the stack.
TEST(VirtualConfig, NestingIsBoundedAndReportedAsAChain) {
  std::string y = "repositories:\n  - {key: l, type: local}\n";
  for (int i = 0; i < 10; ++i)
    y += "  - {key: v" + std::to_string(i) + ", type: virtual, repositories: [" +
         (i == 9 ? std::string("l") : "v" + std::to_string(i + 1)) + "]}\n";
  expectRefused(y, {"repositories[1] 'v0'", "nest more than 8 deep", "v0 -> v1 -> v2"});
  // Eight levels of diamonds (each lists every later one) are fine.
  std::string ok = "repositories:\n  - {key: l, type: local}\n";
  for (int i = 0; i < 8; ++i) {
    std::string members;
    for (int j = i + 1; j < 8; ++j) members += "v" + std::to_string(j) + ", ";
    ok += "  - {key: v" + std::to_string(i) + ", type: virtual, repositories: [" + members + "l]}\n";
  }
  EXPECT_EQ(loadFromString(ok, "t.yml").repositories.size(), 9u);
}

}  // namespace
}  // namespace berth::config
