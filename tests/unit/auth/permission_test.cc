#include <gtest/gtest.h>

#include "auth/password.h"
#include "auth/permission_check.h"

namespace berth::auth {
namespace {

TEST(Pattern, Globs) {
  EXPECT_TRUE(matchPattern("**", "a/b/c"));
  EXPECT_TRUE(matchPattern("*", "abc"));
  EXPECT_FALSE(matchPattern("*", "a/b"));
  EXPECT_TRUE(matchPattern("team/*", "team/app"));
  EXPECT_FALSE(matchPattern("team/*", "team/app/x"));
  EXPECT_TRUE(matchPattern("team/**", "team/app/x"));
  EXPECT_TRUE(matchPattern("**/app", "app"));
  EXPECT_TRUE(matchPattern("**/app", "a/b/app"));
  EXPECT_TRUE(matchPattern("ap?", "app"));
  EXPECT_FALSE(matchPattern("ap?", "ap/"));
  EXPECT_FALSE(matchPattern("other", "app"));
}

TEST(Actions, Ladder) {
  EXPECT_TRUE(grants({Action::Delete}, Action::Deploy));
  EXPECT_TRUE(grants({Action::Deploy}, Action::Read));
  EXPECT_FALSE(grants({Action::Read}, Action::Deploy));
  EXPECT_TRUE(grants({Action::Manage}, Action::Delete));
  EXPECT_FALSE(grants({}, Action::Read));
}

PermissionModel model() {
  PermissionModel m;
  m.repo_types = {{"dev", config::RepoType::Local}, {"prod", config::RepoType::Local}};
  m.users["alice"] = User{"alice", "", {"devs"}, false, {}};
  m.groups["ops"] = Group{"ops", "", true};
  Permission p;
  p.name = "dev";
  p.repositories = {"dev"};
  p.include = {"team/**"};
  p.exclude = {"team/secret"};
  p.users["alice"] = {Action::Deploy};
  p.groups["readers"] = {Action::Read};
  m.permissions[p.name] = p;
  Permission anon;
  anon.name = "anon";
  anon.repositories = {"ANY LOCAL"};
  anon.users[kAnonymous] = {Action::Read};
  m.permissions[anon.name] = anon;
  return m;
}

Principal who(const std::string& name, std::vector<std::string> groups = {}) {
  Principal p;
  p.name = name;
  p.groups = std::move(groups);
  return p;
}

TEST(PermissionCheck, UsersGroupsPatternsAndAnonymous) {
  auto m = model();
  EXPECT_TRUE(isAllowed(m, who("alice"), "dev", "team/app", Action::Deploy));
  EXPECT_TRUE(isAllowed(m, who("alice"), "dev", "team/app", Action::Read));
  EXPECT_FALSE(isAllowed(m, who("alice"), "dev", "team/app", Action::Delete));
  EXPECT_FALSE(isAllowed(m, who("alice"), "dev", "team/secret", Action::Read)) << "excluded";
  EXPECT_FALSE(isAllowed(m, who("alice"), "dev", "other", Action::Read)) << "not included";
  EXPECT_FALSE(isAllowed(m, who("alice"), "prod", "team/app", Action::Deploy));
  EXPECT_TRUE(isAllowed(m, who("bob", {"readers"}), "dev", "team/x", Action::Read));
  EXPECT_FALSE(isAllowed(m, who("bob", {"readers"}), "dev", "team/x", Action::Deploy));
  EXPECT_TRUE(isAllowed(m, who("carol", {"ops"}), "prod", "anything", Action::Manage)) << "admin group";
  EXPECT_TRUE(isAllowed(m, Principal{}, "prod", "x", Action::Read));
  EXPECT_FALSE(isAllowed(m, Principal{}, "prod", "x", Action::Deploy));
  m.anonymous_access = false;
  EXPECT_FALSE(isAllowed(m, Principal{}, "prod", "x", Action::Read));
  EXPECT_FALSE(mayReadSomething(m, Principal{}));
}

TEST(PermissionCheck, AccessTokenScopeNarrows) {
  auto m = model();
  Principal p = who("alice");
  p.token_repositories = {"prod"};
  EXPECT_FALSE(isAllowed(m, p, "dev", "team/app", Action::Read));
  p.token_repositories.clear();
  p.token_actions = {Action::Read};
  EXPECT_TRUE(isAllowed(m, p, "dev", "team/app", Action::Read));
  EXPECT_FALSE(isAllowed(m, p, "dev", "team/app", Action::Deploy));
}

TEST(Password, BcryptHashesVerify) {
  auto h = hashPassword("s3cret");
  EXPECT_TRUE(h.starts_with("$2b$"));
  EXPECT_TRUE(verifyPassword("s3cret", h));
  EXPECT_FALSE(verifyPassword("wrong", h));
  // htpasswd -nbB writes $2y$: the same algorithm.
  std::string y = "$2y$" + h.substr(4);
  EXPECT_TRUE(verifyPassword("s3cret", y));
  EXPECT_FALSE(verifyPassword("s3cret", "plain"));
  EXPECT_FALSE(verifyPassword("s3cret", ""));
  EXPECT_EQ(randomPassword(20).size(), 20u);
}

}  // namespace
}  // namespace berth::auth
