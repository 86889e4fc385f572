// docs/configuration.md documents every key the parser accepts: the list of
// keys comes from the parser itself (config/schema.h), so a key added
// without its line in the reference fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/loader.h"

namespace berth::config {
namespace {

TEST(ConfigDocs, EveryKeyTheParserAcceptsIsInTheReference) {
  std::ifstream in(std::string(BERTH_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md not found";
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const auto keys = acceptedKeyPaths();
  ASSERT_GT(keys.size(), 50u) << "the parser told fewer keys than it has";
  for (const auto& key : keys) {
    // A section is documented by its keys: only the leaves need a line.
    auto next = keys.upper_bound(key);
    if (next != keys.end() && (next->starts_with(key + ".") || next->starts_with(key + "[]"))) continue;
    EXPECT_NE(doc.find("`" + key + "`"), std::string::npos)
        << "docs/configuration.md does not document `" << key << "` (add it to the Reference, with its default)";
  }
}

}  // namespace
}  // namespace berth::config
