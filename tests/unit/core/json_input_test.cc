#include "core/json_input.h"

#include <gtest/gtest.h>

namespace berth::json_input {
namespace {

std::string nested(std::size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonInputTest, DepthCountsArraysAndObjectsButNotStrings) {
  EXPECT_EQ(nestingDepth("1"), 0u);
  EXPECT_EQ(nestingDepth("[]"), 1u);
  EXPECT_EQ(nestingDepth(R"({"a":[{"b":[]}]})"), 4u);
  EXPECT_EQ(nestingDepth(R"(["[[[[[[", "\"[[[["])"), 1u);  // brackets inside strings, escaped quotes
  EXPECT_EQ(nestingDepth("[][][]"), 1u);
}

TEST(JsonInputTest, DepthStopsCountingPastTheLimit) {
  EXPECT_EQ(nestingDepth(nested(1000000), 64), 65u);
}

TEST(JsonInputTest, ParseAcceptsTheLimitAndRefusesDeeper) {
  EXPECT_TRUE(parse(nested(kMaxDepth), ErrorCode::BadRequest));
  auto deep = parse(nested(kMaxDepth + 1), ErrorCode::ManifestInvalid);
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code, ErrorCode::ManifestInvalid);
  EXPECT_NE(deep.error().message.find("nested too deeply"), std::string::npos);
}

TEST(JsonInputTest, AMillionLevelsAreRefusedWithoutRecursion) {
  std::string body = R"({"annotations":)" + nested(1000000) + "}";
  auto r = parse(body, ErrorCode::BadRequest);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::BadRequest);
  std::string objects;
  for (int i = 0; i < 500000; ++i) objects += R"({"a":)";
  objects += "1" + std::string(500000, '}');
  EXPECT_FALSE(parse(objects, ErrorCode::BadRequest));
}

TEST(JsonInputTest, ParseRefusesWhatIsNotJson) {
  for (const char* text : {"", "{", "[1,]", "nul", R"({"a" 1})", "\"unterminated"}) {
    auto r = parse(text, ErrorCode::BadRequest);
    EXPECT_FALSE(r) << text;
  }
}

TEST(JsonInputTest, FieldsReadTypedValuesAndTreatAbsentAsNone) {
  auto doc = nlohmann::json::parse(R"({"s":"x","i":-5,"b":true,"l":["a","b"],"n":null,"o":{},"a":[1]})");
  Fields f(doc, ErrorCode::BadRequest);
  EXPECT_EQ(f.string("s"), "x");
  EXPECT_EQ(f.integer("i"), -5);
  EXPECT_EQ(f.boolean("b"), true);
  EXPECT_EQ(f.strings("l"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.string("n"), std::nullopt);
  EXPECT_EQ(f.string("missing"), std::nullopt);
  EXPECT_NE(f.object("o"), nullptr);
  EXPECT_NE(f.array("a"), nullptr);
  EXPECT_TRUE(f.status());
}

TEST(JsonInputTest, AWrongTypeIsAnErrorNamingTheField) {
  auto doc = nlohmann::json::parse(R"({"actions":5,"username":"u"})");
  Fields f(doc, ErrorCode::BadRequest);
  EXPECT_EQ(f.strings("actions"), std::nullopt);
  EXPECT_EQ(f.string("username"), "u");
  auto st = f.status();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::BadRequest);
  EXPECT_NE(st.error().message.find("'actions'"), std::string::npos) << st.error().message;
}

TEST(JsonInputTest, EachWrongTypeIsCaught) {
  auto doc = nlohmann::json::parse(
      R"({"s":1,"i":"1","f":1.5,"big":18446744073709551615,"b":"true","l":["a",1],"o":[],"a":{}})");
  for (const char* key : {"s", "i", "f", "big", "b", "l", "o", "a"}) {
    Fields f(doc, ErrorCode::BadRequest);
    std::string k = key;
    if (k == "s") f.string(key);
    else if (k == "i" || k == "f" || k == "big") f.integer(key);
    else if (k == "b") f.boolean(key);
    else if (k == "l") f.strings(key);
    else if (k == "o") f.object(key);
    else f.array(key);
    ASSERT_FALSE(f.status()) << key;
    EXPECT_NE(f.status().error().message.find("'" + k + "'"), std::string::npos);
  }
}

TEST(JsonInputTest, ABodyThatIsNotAnObjectIsAnError) {
  auto doc = nlohmann::json::parse("[1,2]");
  Fields f(doc, ErrorCode::BadRequest);
  EXPECT_EQ(f.string("x"), std::nullopt);
  EXPECT_FALSE(f.status());
}

}  // namespace
}  // namespace berth::json_input
