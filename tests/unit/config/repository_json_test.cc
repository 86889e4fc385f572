// The repository API's JSON, in Artifactory's names or the config file's,
// as config file entries (config/repository_json.h).
#include "config/repository_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/problems.h"
#include "config/repository_config.h"

namespace berth::config {
namespace {

using nlohmann::json;

Repository parse(const json& entry, std::vector<std::string>* problems = nullptr) {
  ProblemCollector collector;
  Repository r = readRepository(entryNode(entry), "test", "repository");
  if (problems)
    for (const auto& p : collector.problems()) problems->push_back(p.message);
  return r;
}

TEST(RepositoryJson, ArtifactoryNamesBecomeTheFilesKeys) {
  json entry = json::object();
  auto applied = applyApiFields(json::parse(R"({
      "key": "hub", "rclass": "Remote", "packageType": "docker", "url": "https://mirror.example/v2/",
      "username": "u", "password": "p", "retrievalCachePeriodSecs": 60, "socketTimeoutMillis": 1500,
      "unusedArtifactsCleanupPeriodHours": 72,
      "externalDependenciesEnabled": true, "externalDependenciesPatterns": ["https://x/**"],
      "repoLayoutRef": "simple-default", "xrayIndex": false})"),
                                entry);
  EXPECT_TRUE(applied.problems.empty());
  EXPECT_EQ(applied.ignored, (std::vector<std::string>{"repoLayoutRef", "xrayIndex"}));
  EXPECT_EQ(entry["type"], "remote");
  EXPECT_EQ(entry["timeout_seconds"], 2) << "milliseconds round up to whole seconds";
  EXPECT_EQ(applied.named_as.at("metadata_ttl_seconds"), "retrievalCachePeriodSecs");
  std::vector<std::string> problems;
  Repository r = parse(entry, &problems);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(r.type, RepoType::Remote);
  EXPECT_EQ(r.remote.url, "https://mirror.example/v2");
  EXPECT_EQ(r.remote.metadata_ttl_seconds, 60u);
  EXPECT_EQ(r.remote.cache_retention_hours, 72u);
  EXPECT_TRUE(r.remote.foreign_layers.enabled);
  EXPECT_EQ(r.remote.foreign_layers.include, (std::vector<std::string>{"https://x/**"}));
}

TEST(RepositoryJson, TheFilesOwnKeysAreTakenToo) {
  json entry = json::object();
  auto applied = applyApiFields(json{{"type", "local"}, {"max_unique_tags", 4}, {"protected_tags", {"latest"}}}, entry);
  EXPECT_TRUE(applied.problems.empty());
  Repository r = parse(entry);
  EXPECT_EQ(r.local.max_unique_tags, 4u);
  EXPECT_EQ(r.local.protected_tags, (std::vector<std::string>{"latest"}));
}

TEST(RepositoryJson, NullResetsAFieldAndAnAbsentOneStays) {
  json entry{{"key", "a"}, {"type", "local"}, {"max_unique_tags", 4}, {"description", "d"}};
  applyApiFields(json{{"maxUniqueTags", nullptr}}, entry);
  EXPECT_FALSE(entry.contains("max_unique_tags"));
  EXPECT_EQ(entry["description"], "d");
  json nested{{"foreign_layers", {{"enabled", true}}}};
  applyApiFields(json{{"externalDependenciesEnabled", nullptr}}, nested);
  EXPECT_FALSE(nested.contains("foreign_layers")) << "an emptied section goes";
}

TEST(RepositoryJson, WhatCannotBeTakenIsAProblem) {
  json entry = json::object();
  auto applied = applyApiFields(json::parse(R"({"packageType": "maven", "description": {"a": 1},
      "repositories": ["a", 2], "port": [1], "socketTimeoutMillis": -5, "caFile": "/etc/shadow"})"),
                                entry);
  EXPECT_EQ(applied.problems.size(), 6u);
  auto said = [&](const std::string& what) {
    for (const auto& p : applied.problems)
      if (p.find(what) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(said("packageType must be docker"));
  EXPECT_TRUE(said("caFile names a file on the server"));
  EXPECT_TRUE(said("description must not be an object"));
  EXPECT_TRUE(said("repositories must be a list of strings"));
  EXPECT_TRUE(said("port must not be a list"));
  EXPECT_TRUE(said("socketTimeoutMillis must be a non-negative integer"));
  EXPECT_TRUE(entry.empty());
}

TEST(RepositoryJson, TheParserChecksTheTypesOfWhatPasses) {
  json entry = json::object();
  applyApiFields(json{{"rclass", "local"}, {"maxUniqueTags", "many"}}, entry);
  std::vector<std::string> problems;
  parse(entry, &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("repository.max_unique_tags has the wrong type"), std::string::npos) << problems[0];
}

TEST(RepositoryJson, StringsThatLookLikeOtherYamlStayStrings) {
  for (std::string s : {"null", "true", "~", "123", "a: b", "- x", "'q'", "line\nbreak", "{x}"}) {
    json entry{{"key", "a"}, {"type", "local"}, {"description", s}};
    std::vector<std::string> problems;
    Repository r = parse(json::parse(entry.dump()), &problems);
    EXPECT_TRUE(problems.empty()) << s;
    EXPECT_EQ(r.description, s);
  }
}

TEST(RepositoryJson, GetShowsArtifactoryNamesAndNoPassword) {
  Repository r;
  r.key = "hub";
  r.type = RepoType::Remote;
  r.remote.username = "u";
  r.remote.password = "secret";
  r.remote.timeout_seconds = 7;
  json j = repositoryJson(r, false);
  EXPECT_EQ(j["rclass"], "remote");
  EXPECT_EQ(j["packageType"], "docker");
  EXPECT_EQ(j["socketTimeoutMillis"], 7000);
  EXPECT_EQ(j["password"], "");
  EXPECT_FALSE(j.contains("username"));
  EXPECT_EQ(repositoryJson(r, true)["username"], "u");
  EXPECT_EQ(j.dump().find("secret"), std::string::npos);
}

}  // namespace
}  // namespace berth::config
