// BERTH_<KEY PATH> overrides and ${NAME} references, with an environment
// handed in (no setenv: the process environment stays out of it).
#include "config/env_overrides.h"

#include <gtest/gtest.h>

#include "berth/config_error.h"
#include "config/loader.h"

namespace berth::config {
namespace {

const char* kFile =
    "server: {listen: \"127.0.0.1:5000\", workers: 2}\n"
    "storage: {root: /srv/berth}\n"
    "repositories:\n"
    "  - {key: docker, type: virtual, repositories: [docker-local]}\n"
    "  - {key: docker-local, type: local}\n"
    "  - {key: hub, type: remote}\n";

Config load(const Environment& env, const std::string& text = kFile) { return loadDocument(text, "t.yml", env); }

std::vector<ConfigProblem> problemsOf(const Environment& env, const std::string& text = kFile) {
  try {
    load(env, text);
  } catch (const ConfigError& e) {
    return e.problems();
  }
  ADD_FAILURE() << "accepted";
  return {};
}

// The one problem a load has, which must name `variable` and hold `fragment`.
void expectVariableProblem(const Environment& env, const std::string& variable, const std::string& fragment) {
  auto problems = problemsOf(env);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].variable, variable);
  EXPECT_EQ(problems[0].line, 0) << "not a place in the file";
  EXPECT_NE(problems[0].message.find(fragment), std::string::npos) << problems[0].message;
  EXPECT_EQ(problems[0].text("t.yml").rfind("environment variable " + variable + ": ", 0), 0u) << problems[0].text("t.yml");
}

TEST(EnvOverrides, UpperSnakeNames) {
  EXPECT_EQ(upperSnake("docker-local"), "DOCKER_LOCAL");
  EXPECT_EQ(upperSnake("my.repo-2"), "MY_REPO_2");
  EXPECT_EQ(upperSnake("max_unique_tags"), "MAX_UNIQUE_TAGS");
}

TEST(EnvOverrides, EachKindOfValueOverridesTheFile) {
  auto c = load({{"BERTH_SERVER_LISTEN", "127.0.0.1:6000"},                       // string
                 {"BERTH_SERVER_WORKERS", "7"},                                   // unsigned
                 {"BERTH_STORAGE_READY_MIN_FREE_BYTES", "8589934592"},            // uint64
                 {"BERTH_LOG_ACCESS_LOG", "false"},                               // bool
                 {"BERTH_SERVER_TRUSTED_PROXIES", "[10.0.0.0/8, \"fd00::/8\"]"},  // list, YAML flow
                 {"BERTH_STORAGE_ROOT", "/data"}});
  EXPECT_EQ(c.server.listen, "127.0.0.1:6000");
  EXPECT_EQ(c.server.workers, 7u);
  EXPECT_EQ(c.storage.ready_min_free_bytes, 8589934592ull);
  EXPECT_FALSE(c.log.access_log);
  EXPECT_EQ(c.server.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8"}));
  EXPECT_EQ(c.storage.root, "/data");
}

TEST(EnvOverrides, NestedKeysOfSectionsTheFileLacks) {
  auto c = load({{"BERTH_SERVER_TLS_CERT", "/etc/berth/cert.pem"},
                 {"BERTH_SERVER_TLS_KEY", "/etc/berth/key.pem"},
                 {"BERTH_SERVER_TLS_REDIRECT_PLAIN_HTTP", "true"},
                 {"BERTH_SECURITY_TOKEN_EXPIRY_SECONDS", "60"}});
  EXPECT_EQ(c.server.tls.cert, "/etc/berth/cert.pem");
  EXPECT_EQ(c.server.tls.key, "/etc/berth/key.pem");
  EXPECT_TRUE(c.server.tls.redirect_plain_http);
  EXPECT_EQ(c.security.token_expiry_seconds, 60u);
  EXPECT_TRUE(c.security.enabled) << "a security key turns the section, and so access control, on";
}

TEST(EnvOverrides, RepositoriesByTheirKey) {
  auto c = load({{"BERTH_REPOSITORIES_DOCKER_LOCAL_MAX_UNIQUE_TAGS", "5"},
                 {"BERTH_REPOSITORIES_DOCKER_LOCAL_PROTECTED_TAGS", "[latest, stable]"},
                 {"BERTH_REPOSITORIES_HUB_USERNAME", "robot"},
                 {"BERTH_REPOSITORIES_HUB_PASSWORD", "a: b #c ${NOT_EXPANDED} [x"},
                 {"BERTH_REPOSITORIES_HUB_FOREIGN_LAYERS_ENABLED", "true"},
                 {"BERTH_REPOSITORIES_DOCKER_RESOLVE_TAGS_BY_LATEST_TIMESTAMP", "true"}});
  EXPECT_EQ(c.repositories[1].local.max_unique_tags, 5u) << "DOCKER_LOCAL is docker-local, not docker + LOCAL_...";
  EXPECT_EQ(c.repositories[1].local.protected_tags, (std::vector<std::string>{"latest", "stable"}));
  EXPECT_EQ(c.repositories[2].remote.username, "robot");
  EXPECT_EQ(c.repositories[2].remote.password, "a: b #c ${NOT_EXPANDED} [x") << "a string value is taken as it is";
  EXPECT_TRUE(c.repositories[2].remote.foreign_layers.enabled);
  EXPECT_TRUE(c.repositories[0].virt.resolve_tags_by_latest_timestamp);
}

TEST(EnvOverrides, UsersByTheirName) {
  const std::string file = "security:\n  users:\n    - {name: alice}\n    - {name: bob}\n";
  auto c = load({{"BERTH_SECURITY_USERS_BOB_DISABLED", "true"}}, file);
  EXPECT_FALSE(c.security.users[0].disabled);
  EXPECT_TRUE(c.security.users[1].disabled);
}

TEST(EnvOverrides, TheOlderListenNameStillWorks) {
  EXPECT_EQ(load({{"BERTH_LISTEN", "127.0.0.1:7000"}}).server.listen, "127.0.0.1:7000");
  EXPECT_EQ(load({{"BERTH_LISTEN", "127.0.0.1:7000"}, {"BERTH_SERVER_LISTEN", "127.0.0.1:7000"}}).server.listen,
            "127.0.0.1:7000");
  auto problems = problemsOf({{"BERTH_LISTEN", "127.0.0.1:7000"}, {"BERTH_SERVER_LISTEN", "127.0.0.1:7001"}});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].variable, "BERTH_LISTEN");
  EXPECT_NE(problems[0].message.find("BERTH_SERVER_LISTEN"), std::string::npos);
}

TEST(EnvOverrides, EmptyVariablesAndOtherNamesAreLeftAlone) {
  auto c = load({{"BERTH_SERVER_LISTEN", ""},  // empty: as if unset
                 {"BERTH_CONFIG", "/etc/berth/berth.yml"},
                 {"BERTH_BIN", "/usr/bin/berth"},  // not a section: the user's own
                 {"HOME", "/root"}});
  EXPECT_EQ(c.server.listen, "127.0.0.1:5000");
}

TEST(EnvOverrides, AnUnknownKeyIsAProblemNamingTheVariable) {
  expectVariableProblem({{"BERTH_SERVER_LISTN", "x"}}, "BERTH_SERVER_LISTN", "the keys of server: ");
  expectVariableProblem({{"BERTH_REPOSITORIES_NOPE_URL", "x"}}, "BERTH_REPOSITORIES_NOPE_URL", "names no configuration key");
  expectVariableProblem({{"BERTH_SERVER_TLS_CERTIFICATE", "x"}}, "BERTH_SERVER_TLS_CERTIFICATE", "the keys of server.tls");
  expectVariableProblem({{"BERTH_STORAGE", "x"}}, "BERTH_STORAGE", "storage");
}

TEST(EnvOverrides, AWrongTypeIsRefusedLikeTheFileWouldBeNamingTheVariable) {
  expectVariableProblem({{"BERTH_SERVER_WORKERS", "many"}}, "BERTH_SERVER_WORKERS",
                        "server.workers has the wrong type (expected a non-negative integer)");
  expectVariableProblem({{"BERTH_SERVER_WORKERS", "-1"}}, "BERTH_SERVER_WORKERS", "server.workers");
  expectVariableProblem({{"BERTH_LOG_ACCESS_LOG", "perhaps"}}, "BERTH_LOG_ACCESS_LOG", "expected true or false");
  expectVariableProblem({{"BERTH_SERVER_TRUSTED_PROXIES", "{a: 1}"}}, "BERTH_SERVER_TRUSTED_PROXIES",
                        "server.trusted_proxies");
  expectVariableProblem({{"BERTH_SERVER_TRUSTED_PROXIES", "[10.0.0.0/8"}}, "BERTH_SERVER_TRUSTED_PROXIES",
                        "not valid YAML");
  expectVariableProblem({{"BERTH_REPOSITORIES_HUB_TIMEOUT_SECONDS", "0"}}, "BERTH_REPOSITORIES_HUB_TIMEOUT_SECONDS",
                        "repositories[2].timeout_seconds must be at least 1");
  expectVariableProblem({{"BERTH_REPOSITORIES_DOCKER_LOCAL_URL", "https://example.com"}},
                        "BERTH_REPOSITORIES_DOCKER_LOCAL_URL", "applies only to a remote repository");
}

TEST(EnvOverrides, AValueIsNeverQuotedInAProblem) {
  for (auto& p : problemsOf({{"BERTH_SERVER_WORKERS", "s3cr3t"}, {"BERTH_SERVER_TRUSTED_PROXIES", "[s3cr3t"}}))
    EXPECT_EQ(p.text("t.yml").find("s3cr3t"), std::string::npos) << p.text("t.yml");
}

TEST(EnvOverrides, AVariableNamingTwoKeysIsAProblem) {
  const std::string file = "repositories: [{key: a.b}, {key: a-b}]\n";
  try {
    load({{"BERTH_REPOSITORIES_A_B_PORT", "5001"}}, file);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    ASSERT_GE(e.problems().size(), 1u);
    EXPECT_NE(std::string(e.what()).find("BERTH_REPOSITORIES_A_B_PORT: names more than one key (repositories[0].port "
                                         "and repositories[1].port)"),
              std::string::npos)
        << e.what();
  }
}

TEST(EnvReferences, InAnyValueOfTheFile) {
  auto c = load({{"DIR", "/srv"}, {"W", "3"}, {"NET", "10.0.0.0/8"}, {"PW", "pa$$word"}},
                "server: {workers: \"${W}\", trusted_proxies: [\"${NET}\"]}\n"
                "storage: {root: \"${DIR}/berth\"}\n"
                "repositories: [{key: hub, type: remote, username: u, password: \"x-${PW}-$${PW}-$5\"}]\n");
  EXPECT_EQ(c.server.workers, 3u);
  EXPECT_EQ(c.server.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_EQ(c.storage.root, "/srv/berth");
  EXPECT_EQ(c.repositories[0].remote.password, "x-pa$$word-${PW}-$5") << "$${ is a literal ${; other $ stay";
}

TEST(EnvReferences, AnUnsetOrMalformedReferenceIsAProblemAtItsPlace) {
  auto problems = problemsOf({}, "server:\n  listen: \"${NO_SUCH_VAR}\"\nstorage:\n  root: \"${bad-name}\"\n"
                                 "log: {level: \"${UNCLOSED\"}\n");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].text("t.yml"),
            "t.yml:2:11: server.listen refers to the environment variable NO_SUCH_VAR, which is not set");
  EXPECT_EQ(problems[1].line, 4);
  EXPECT_NE(problems[1].message.find("storage.root has a malformed environment reference"), std::string::npos);
  EXPECT_EQ(problems[2].line, 5);
  EXPECT_NE(problems[2].message.find("log.level has a '${' without its closing '}'"), std::string::npos);
}

TEST(EnvReferences, AReferencedBerthVariableIsNotAnOverride) {
  auto c = load({{"BERTH_SERVER_SECRET", "pw"}},
                "repositories: [{key: hub, type: remote, username: u, password: \"${BERTH_SERVER_SECRET}\"}]\n");
  EXPECT_EQ(c.repositories[0].remote.password, "pw");
}

TEST(ConfigProblems, EveryProblemIsListedWithItsLineAndColumn) {
  auto problems = problemsOf({{"BERTH_SERVER_IDLE_TIMEOUT_SECONDS", "0"}},
                             "server:\n"
                             "  workers: many\n"           // line 2: wrong type
                             "  colour: blue\n"            // line 3: unknown key
                             "log: {level: loud}\n"        // line 4: bad value
                             "repositories:\n"
                             "  - {key: a_b}\n"            // line 6: bad repository key
                             "  - {key: r, type: cloud}\n"  // line 7: bad type
                             "  - {key: hub, type: remote, timeout_seconds: 0, url: ftp://x}\n");  // line 8: two
  std::vector<std::string> texts;
  for (const auto& p : problems) texts.push_back(p.text("t.yml"));
  EXPECT_EQ(texts, (std::vector<std::string>{
                       "t.yml:2:12: server.workers has the wrong type (expected a non-negative integer)",
                       "t.yml:3:3: unknown key server.colour",
                       "t.yml:4:14: log.level must be one of trace|debug|info|warn|error|off",
                       "t.yml:6:11: repositories[0].key 'a_b': repository key must not contain '_' (the Docker "
                       "client cannot address such a repository)",
                       "t.yml:7:20: repositories[1].type must be local, remote or virtual (got 'cloud')",
                       "t.yml:8:47: repositories[2].timeout_seconds must be at least 1",
                       "t.yml:8:55: repositories[2].url must start with http:// or https://",
                       "environment variable BERTH_SERVER_IDLE_TIMEOUT_SECONDS: server.idle_timeout_seconds must be "
                       "at least 1"}));
}

TEST(ConfigSchema, TheParserTellsEveryKeyItAccepts) {
  auto keys = acceptedKeyPaths();
  for (const char* k : {"server.listen", "server.tls.cert", "server.trusted_proxies", "log.level", "storage.root",
                        "security.token.expiry_seconds", "security.users[].password_hash",
                        "security.permissions[].users", "repositories[].url", "repositories[].foreign_layers.include",
                        "repositories[].max_unique_tags", "repositories[].default_deployment_repo"})
    EXPECT_TRUE(keys.count(k)) << k;
  EXPECT_FALSE(keys.count("server.colour"));
}

}  // namespace
}  // namespace berth::config
