// The gc section (docs/configuration.md, docs/lifecycle.md).
#include <gtest/gtest.h>

#include "berth/config.h"
#include "ops/gc.h"

namespace berth::config {
namespace {

TEST(GcConfig, Defaults) {
  auto c = loadFromString("repositories: [{key: l}]", "t");
  EXPECT_EQ(c.gc.interval_minutes, 60u);
  EXPECT_EQ(c.gc.grace_period_minutes, 60u);
  EXPECT_EQ(c.gc.upload_ttl_hours, 24u);
  auto o = ops::gcOptions(c.gc);
  EXPECT_EQ(o.grace_seconds, 3600);
  EXPECT_EQ(o.upload_ttl_seconds, 24 * 3600);
  EXPECT_FALSE(o.dry_run);
}

TEST(GcConfig, TheEmbeddedDefaultHasTheSameValues) {
  auto c = loadDefault();
  EXPECT_EQ(c.gc.interval_minutes, 60u);
  EXPECT_EQ(c.gc.grace_period_minutes, 60u);
  EXPECT_EQ(c.gc.upload_ttl_hours, 24u);
}

TEST(GcConfig, Read) {
  auto c = loadFromString("gc: {interval_minutes: 0, grace_period_minutes: 5, upload_ttl_hours: 2}", "t");
  EXPECT_EQ(c.gc.interval_minutes, 0u);
  EXPECT_EQ(c.gc.grace_period_minutes, 5u);
  EXPECT_EQ(c.gc.upload_ttl_hours, 2u);
}

TEST(GcConfig, UnknownKeyAndWrongTypeAreNamed) {
  for (const auto& [yaml, needle] : std::vector<std::pair<std::string, std::string>>{
           {"gc: {grace_minutes: 5}", "unknown key gc.grace_minutes"},
           {"gc: {interval_minutes: often}", "gc.interval_minutes has the wrong type"}}) {
    try {
      loadFromString(yaml, "t.yml");
      ADD_FAILURE() << "accepted: " << yaml;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace berth::config
