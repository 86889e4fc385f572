// max_unique_tags and protected_tags (docs/lifecycle.md): local repositories only.
#include <gtest/gtest.h>

#include "berth/config.h"

namespace berth::config {
namespace {

void expectError(const std::string& yaml, const std::string& needle) {
  try {
    loadFromString(yaml, "t.yml");
    ADD_FAILURE() << "accepted: " << yaml;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(LifecycleConfig, UnlimitedByDefault) {
  auto r = loadFromString("repositories: [{key: l}]", "t").repositories.at(0);
  EXPECT_EQ(r.local.max_unique_tags, 0u);
  EXPECT_TRUE(r.local.protected_tags.empty());
}

TEST(LifecycleConfig, ReadOnALocalRepository) {
  auto r = loadFromString("repositories: [{key: l, type: local, max_unique_tags: 10, protected_tags: [latest, stable]}]",
                          "t")
               .repositories.at(0);
  EXPECT_EQ(r.local.max_unique_tags, 10u);
  EXPECT_EQ(r.local.protected_tags, (std::vector<std::string>{"latest", "stable"}));
}

TEST(LifecycleConfig, RefusedElsewhereAndWhenMalformed) {
  expectError("repositories: [{key: r, type: remote, max_unique_tags: 3}]",
              "repositories[0].max_unique_tags applies only to a local repository");
  expectError("repositories: [{key: l}, {key: v, type: virtual, repositories: [l], protected_tags: [latest]}]",
              "repositories[1].protected_tags applies only to a local repository");
  expectError("repositories: [{key: l, max_unique_tags: many}]", "repositories[0].max_unique_tags has the wrong type");
  expectError("repositories: [{key: l, max_unique_tags: -1}]", "repositories[0].max_unique_tags");
  expectError("repositories: [{key: l, protected_tags: latest}]", "repositories[0].protected_tags has the wrong type");
  expectError("repositories: [{key: l, protected_tags: [\"a b\"]}]",
              "repositories[0].protected_tags[0] is not a valid tag");
}

}  // namespace
}  // namespace berth::config
