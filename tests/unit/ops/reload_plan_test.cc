#include "ops/reload_plan.h"

#include <gtest/gtest.h>

#include <functional>

namespace berth::ops {
namespace {

using Keys = std::vector<std::string>;

config::Repository repo(const std::string& key, config::RepoType type = config::RepoType::Local) {
  config::Repository r;
  r.key = key;
  r.type = type;
  return r;
}

TEST(ReloadPlan, SortsRepositoriesIntoAddedChangedRemovedAndKept) {
  auto same = repo("same"), changed = repo("changed"), gone = repo("gone");
  auto changed_after = changed;
  changed_after.local.max_unique_tags = 5;
  auto plan = planRepositories({same, changed, gone}, {changed_after, repo("new"), same});
  EXPECT_EQ(plan.added, Keys{"new"});
  EXPECT_EQ(plan.changed, Keys{"changed"});
  EXPECT_EQ(plan.removed, Keys{"gone"});
  EXPECT_EQ(plan.kept, Keys{"same"});
}

TEST(ReloadPlan, ALineMovedInTheFileIsNoChange) {
  auto before = repo("r"), after = repo("r");
  before.line = 3;
  after.line = 30;
  EXPECT_TRUE(sameRepositorySettings(before, after));
  EXPECT_EQ(planRepositories({before}, {after}).kept, Keys{"r"});
}

TEST(ReloadPlan, EveryRepositorySettingCounts) {
  const auto base = repo("r", config::RepoType::Remote);
  std::vector<std::function<void(config::Repository&)>> edits = {
      [](auto& r) { r.type = config::RepoType::Local; },
      [](auto& r) { r.description = "d"; },
      [](auto& r) { r.port = 5001; },
      [](auto& r) { r.local.max_unique_tags = 1; },
      [](auto& r) { r.local.protected_tags = {"x"}; },
      [](auto& r) { r.remote.url = "https://elsewhere"; },
      [](auto& r) { r.remote.username = "u"; },
      [](auto& r) { r.remote.password = "p"; },
      [](auto& r) { r.remote.metadata_ttl_seconds = 1; },
      [](auto& r) { r.remote.offline = true; },
      [](auto& r) { r.remote.timeout_seconds = 1; },
      [](auto& r) { r.remote.ca_file = "ca.pem"; },
      [](auto& r) { r.remote.max_blob_bytes = 1; },
      [](auto& r) { r.remote.cache_retention_hours = 1; },
      [](auto& r) { r.remote.foreign_layers.enabled = true; },
      [](auto& r) { r.remote.foreign_layers.include = {"https://**"}; },
      [](auto& r) { r.virt.repositories = {"a"}; },
      [](auto& r) { r.virt.default_deployment_repo = "a"; },
      [](auto& r) { r.virt.resolve_tags_by_latest_timestamp = true; },
  };
  for (std::size_t i = 0; i < edits.size(); ++i) {
    auto edited = base;
    edits[i](edited);
    EXPECT_FALSE(sameRepositorySettings(base, edited)) << "edit " << i;
  }
}

TEST(ReloadPlan, RestartOnlyKeysAreNamed) {
  config::Config before;
  before.repositories = {repo("a"), repo("b")};
  before.repositories[1].port = 5001;
  auto after = before;
  EXPECT_TRUE(keysNeedingRestart(before, after).empty());
  after.server.listen = "127.0.0.1:6000";
  after.storage.root = "/elsewhere";
  after.server.workers = 3;
  after.security.enabled = true;
  after.security.anonymous_access = false;  // applied by a reload: not listed
  // Repositories' own ports are applied by a reload: not listed.
  after.repositories[0].port = 5002;                          // a port added
  after.repositories.erase(after.repositories.begin() + 1);  // a repository with a port removed
  after.repositories.push_back(repo("c"));
  EXPECT_EQ(keysNeedingRestart(before, after), (Keys{"server.listen", "server.workers", "storage.root", "security"}));
}

}  // namespace
}  // namespace berth::ops
