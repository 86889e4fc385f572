// SecurityService without HTTP: the password check an unknown user costs,
// the per-(user, address) throttle, credential epochs (password change,
// disabling, restart) and what a Bearer token's scope covers. Passwords are
// checked by a fake verifier that counts its calls (bcrypt itself is slow).
#include "auth/security_service.h"

#include <gtest/gtest.h>

#include "fakes/temp_dir.h"

namespace berth::auth {
namespace {

constexpr const char* kFakePrefix = "$2b$05$";  // a well-formed bcrypt hash to the model's checks

struct Check {
  std::string password, hash;
};

class SecurityServiceTest : public ::testing::Test {
 protected:
  SecurityServiceTest() {
    cfg_.storage.root = dir_.path();
    cfg_.security.enabled = true;
    cfg_.security.failed_logins_before_delay = 2;
    config::Repository dev;
    dev.key = "docker-dev";
    cfg_.repositories.push_back(dev);
    cfg_.security.users.push_back(User{"root", fake("root-pw"), {}, true, {}});
    cfg_.security.users.push_back(User{"alice", fake("alice-pw"), {}, false, {}});
    cfg_.security.users.push_back(User{"bob", fake("bob-pw"), {}, false, {}});
    Permission p;
    p.name = "dev";
    p.repositories = {"docker-dev"};
    p.users = {{"alice", {Action::Deploy}}, {"bob", {Action::Read}}};
    cfg_.security.permissions.push_back(p);
    start();
  }
  // The password in hex, padded to bcrypt's 53 characters (alphabet ./A-Za-z0-9).
  static std::string fake(const std::string& password) {
    static const char kHex[] = "0123456789abcdef";
    std::string out = kFakePrefix;
    for (unsigned char c : password) {
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    out.resize(60, '.');
    return out;
  }
  void start() {
    service_.reset();
    auto store = std::make_shared<SecurityStore>(dir_ / "meta.db");
    service_ = std::make_unique<SecurityService>(cfg_, store, [this](const std::string& pw, const std::string& hash) {
      checks_.push_back({pw, hash});
      if (during_check_) std::exchange(during_check_, nullptr)();
      return hash == fake(pw);
    });
    checks_.clear();
  }
  Result<Principal> login(const std::string& user, const std::string& pw, const std::string& from = "10.0.0.1") {
    return service_->authenticateBasic(user, pw, from);
  }
  Principal mustLogin(const std::string& user, const std::string& pw) {
    auto p = login(user, pw);
    EXPECT_TRUE(p) << user << ": " << (p ? "" : p.error().detail);
    return p.value_or(Principal{});
  }
  Status setPassword(const std::string& user, const std::string& pw, bool disabled = false) {
    User u = *service_->user(user);
    u.password_hash = fake(pw);
    u.disabled = disabled;
    return service_->putUser(u, "");
  }

  testing::TempDir dir_;
  config::Config cfg_;
  std::unique_ptr<SecurityService> service_;
  std::vector<Check> checks_;
  std::function<void()> during_check_;  // run once inside the next password check
};

TEST_F(SecurityServiceTest, AnUnknownUserCostsTheSameBcryptAsAKnownOne) {
  auto known = login("alice", "wrong");
  ASSERT_FALSE(known);
  ASSERT_EQ(checks_.size(), 1u);
  EXPECT_EQ(checks_[0].hash, fake("alice-pw"));
  checks_.clear();
  auto unknown = login("ghost", "wrong");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, known.error().code);
  EXPECT_EQ(unknown.error().detail, known.error().detail) << "the same answer";
  ASSERT_EQ(checks_.size(), 1u) << "bcrypt runs for an unknown name too";
  EXPECT_TRUE(checks_[0].hash.starts_with("$2b$10$")) << "a real hash of Berth's own cost: " << checks_[0].hash;
  EXPECT_EQ(checks_[0].password, "wrong");
  // The dummy never matches, whatever the password.
  checks_.clear();
  EXPECT_FALSE(login("ghost", ""));
  // A disabled user and one without a password are checked against the dummy too.
  ASSERT_TRUE(setPassword("bob", "bob-pw", /*disabled=*/true));
  checks_.clear();
  EXPECT_FALSE(login("bob", "bob-pw"));
  ASSERT_EQ(checks_.size(), 1u);
  EXPECT_TRUE(checks_[0].hash.starts_with("$2b$10$"));
}

TEST_F(SecurityServiceTest, FailuresAreCountedPerUserAndAddressAndNeverStopTheRightPassword) {
  for (int i = 0; i < 2; ++i) EXPECT_EQ(login("alice", "wrong").error().code, ErrorCode::Unauthorized);
  auto third = login("alice", "wrong");
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::TooManyRequests);
  EXPECT_EQ(third.error().detail, "1") << "Retry-After";
  EXPECT_EQ(login("alice", "wrong").error().detail, "2");
  // The right password is checked and accepted all the same.
  checks_.clear();
  EXPECT_TRUE(login("alice", "alice-pw"));
  EXPECT_EQ(checks_.size(), 1u);
  // Other users behind the same address, and alice elsewhere, are unaffected.
  EXPECT_EQ(login("bob", "wrong").error().code, ErrorCode::Unauthorized);
  EXPECT_TRUE(login("bob", "bob-pw"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login("root", "wrong", "10.9.9.9").error().code, i < 2 ? ErrorCode::Unauthorized : ErrorCode::TooManyRequests);
  EXPECT_EQ(login("root", "wrong", "10.0.0.1").error().code, ErrorCode::Unauthorized);
}

TEST_F(SecurityServiceTest, APasswordChangeEndsTokensRefreshTokensAndCachedChecks) {
  Principal alice = mustLogin("alice", "alice-pw");
  auto issued = service_->issueToken(alice, {"repository:docker-dev/app:pull"}, "svc", "", /*offline=*/true);
  ASSERT_FALSE(issued.refresh_token.empty());
  ASSERT_TRUE(service_->authenticateBearer(issued.token, "10.0.0.1"));
  ASSERT_TRUE(service_->authenticateRefresh(issued.refresh_token));
  checks_.clear();
  ASSERT_TRUE(login("alice", "alice-pw"));
  EXPECT_TRUE(checks_.empty()) << "a cached check";
  ASSERT_TRUE(setPassword("alice", "new-pw"));
  EXPECT_FALSE(service_->authenticateBearer(issued.token, "10.0.0.1"));
  EXPECT_FALSE(service_->authenticateRefresh(issued.refresh_token));
  EXPECT_FALSE(login("alice", "alice-pw"));
  EXPECT_TRUE(login("alice", "new-pw"));
  // New tokens work.
  Principal again = mustLogin("alice", "new-pw");
  auto fresh = service_->issueToken(again, {}, "svc", "", true);
  EXPECT_TRUE(service_->authenticateBearer(fresh.token, "10.0.0.1"));
  EXPECT_TRUE(service_->authenticateRefresh(fresh.refresh_token));
  // Changing only groups or the admin flag ends nothing: permissions are checked live.
  User u = *service_->user("alice");
  u.groups = {"g"};
  ASSERT_TRUE(service_->putUser(u, ""));
  EXPECT_TRUE(service_->authenticateBearer(fresh.token, "10.0.0.1"));
}

TEST_F(SecurityServiceTest, APasswordChangeDuringACheckLeavesNothingCached) {
  // The old password is being checked (bcrypt takes a while) when the
  // administrator changes it: that check may still succeed, but must not be
  // remembered for the next five minutes.
  during_check_ = [this] { ASSERT_TRUE(setPassword("alice", "new-pw")); };
  EXPECT_TRUE(login("alice", "alice-pw"));
  checks_.clear();
  EXPECT_FALSE(login("alice", "alice-pw"));
  ASSERT_EQ(checks_.size(), 1u) << "checked again, not taken from the cache";
  EXPECT_EQ(checks_[0].hash, fake("new-pw"));
}

TEST_F(SecurityServiceTest, DisablingEndsEverythingAndReEnablingRevivesNothingOld) {
  Principal alice = mustLogin("alice", "alice-pw");
  auto issued = service_->issueToken(alice, {}, "svc", "", true);
  AccessToken t;
  t.user = "alice";
  auto access = service_->createAccessToken(t);
  ASSERT_TRUE(access);
  ASSERT_TRUE(login("alice", access->secret));
  ASSERT_TRUE(setPassword("alice", "alice-pw", /*disabled=*/true));
  EXPECT_FALSE(login("alice", "alice-pw"));
  EXPECT_FALSE(login("alice", access->secret));
  EXPECT_FALSE(service_->authenticateBearer(access->secret, "10.0.0.1"));
  EXPECT_FALSE(service_->authenticateBearer(issued.token, "10.0.0.1"));
  EXPECT_FALSE(service_->authenticateRefresh(issued.refresh_token));
  ASSERT_TRUE(setPassword("alice", "alice-pw", /*disabled=*/false));
  EXPECT_TRUE(login("alice", "alice-pw"));
  EXPECT_TRUE(login("alice", access->secret)) << "access tokens are credentials of their own";
  EXPECT_FALSE(service_->authenticateBearer(issued.token, "10.0.0.1")) << "sessions from before stay dead";
  EXPECT_FALSE(service_->authenticateRefresh(issued.refresh_token));
}

TEST_F(SecurityServiceTest, EpochsSurviveARestartAndAConfigPasswordChangeEndsSessions) {
  ASSERT_TRUE(setPassword("alice", "second-pw"));
  auto before = service_->issueToken(mustLogin("alice", "second-pw"), {}, "svc", "", true);
  start();
  EXPECT_EQ(service_->user("bob")->epoch, 0);
  // alice is defined by the config, whose hash wins at start: a change of password again.
  EXPECT_GT(service_->user("alice")->epoch, 1);
  EXPECT_FALSE(service_->authenticateRefresh(before.refresh_token));
  EXPECT_TRUE(login("alice", "alice-pw"));
  // A user of the API (not the config) keeps its epoch across restarts.
  ASSERT_TRUE(service_->putUser(User{"carol", fake("c1"), {}, false, {}}, ""));
  ASSERT_TRUE(setPassword("carol", "c2"));
  auto old_session = service_->issueToken(mustLogin("carol", "c2"), {}, "svc", "", true);
  ASSERT_TRUE(setPassword("carol", "c3"));
  auto new_session = service_->issueToken(mustLogin("carol", "c3"), {}, "svc", "", true);
  int64_t epoch = service_->user("carol")->epoch;
  start();
  EXPECT_EQ(service_->user("carol")->epoch, epoch);
  EXPECT_FALSE(service_->authenticateRefresh(old_session.refresh_token));
  EXPECT_TRUE(service_->authenticateRefresh(new_session.refresh_token));
  // A re-created user starts a new life: the old one's tokens do not carry over.
  ASSERT_TRUE(service_->deleteUser("carol"));
  ASSERT_TRUE(service_->putUser(User{"carol", fake("c3"), {}, false, {}}, ""));
  EXPECT_FALSE(service_->authenticateRefresh(new_session.refresh_token));
}

// A reload (App::reload): the security section and the config's entries are
// swapped in at once; what a caller already holds does not change under it.
TEST_F(SecurityServiceTest, ApplyConfigSwapsTheSettingsAndTheConfigsEntries) {
  auto bob = mustLogin("bob", "bob-pw");
  EXPECT_FALSE(service_->isAllowed(bob, "docker-new", "app", Action::Read));
  auto held = service_->settings();
  ASSERT_TRUE(held->anonymous_access);
  auto next = cfg_;
  next.security.anonymous_access = false;
  next.security.token_expiry_seconds = 60;
  config::Repository added;
  added.key = "docker-new";
  next.repositories.push_back(added);
  next.security.permissions[0].repositories.push_back("docker-new");
  next.security.users[1].password_hash = fake("alice-new");
  service_->applyConfig(next);
  EXPECT_FALSE(service_->settings()->anonymous_access);
  EXPECT_TRUE(held->anonymous_access);
  EXPECT_TRUE(service_->isAllowed(bob, "docker-new", "app", Action::Read));
  EXPECT_FALSE(login("alice", "alice-pw"));
  EXPECT_TRUE(login("alice", "alice-new"));
  EXPECT_EQ(service_->issueToken(bob, {}, "svc", "", false).expires_in, 60);
}

TEST_F(SecurityServiceTest, ATokenMintedWithAnAccessTokenDiesWithIt) {
  AccessToken t;
  t.user = "alice";
  auto access = service_->createAccessToken(t);
  ASSERT_TRUE(access);
  Principal p = mustLogin("alice", access->secret);
  EXPECT_EQ(p.credential, Credential::AccessToken);
  auto issued = service_->issueToken(p, {"repository:docker-dev/app:pull"}, "svc", "", /*offline=*/true);
  EXPECT_TRUE(issued.refresh_token.empty()) << "an access token gets no refresh token";
  ASSERT_TRUE(service_->authenticateBearer(issued.token, "10.0.0.1"));
  ASSERT_TRUE(service_->revokeAccessToken(access->record.id, p));
  EXPECT_FALSE(service_->authenticateBearer(issued.token, "10.0.0.1"));
}

TEST_F(SecurityServiceTest, RegistryScopesAreGrantedByHowTheCallerLoggedIn) {
  auto scopes = [&](const Principal& p) {
    auto issued = service_->issueToken(p, {"registry:catalog:*", "registry:security:*", "registry:other:*"}, "svc",
                                       "", true);
    auto bearer = service_->authenticateBearer(issued.token, "10.0.0.1");
    EXPECT_TRUE(bearer);
    EXPECT_EQ(bearer->credential, Credential::BearerToken);
    return bearer->bearer_registry;
  };
  Principal root = mustLogin("root", "root-pw");
  EXPECT_EQ(scopes(root), (std::set<std::string>{"catalog", "security"}));
  // A refresh token or an access token is not a password: no security API.
  auto refresh = service_->issueToken(root, {}, "svc", "", true).refresh_token;
  EXPECT_EQ(scopes(*service_->authenticateRefresh(refresh)), (std::set<std::string>{"catalog"}));
  AccessToken t;
  t.user = "root";
  auto access = service_->createAccessToken(t);
  EXPECT_EQ(scopes(mustLogin("root", access->secret)), (std::set<std::string>{"catalog"}));
  // A token asked for one image names nothing registry-wide.
  auto pull = service_->issueToken(root, {"repository:docker-dev/app:pull"}, "svc", "", false);
  auto bearer = service_->authenticateBearer(pull.token, "10.0.0.1");
  ASSERT_TRUE(bearer);
  EXPECT_TRUE(bearer->bearer_registry.empty());
  ASSERT_TRUE(bearer->bearer_access);
  EXPECT_EQ(bearer->bearer_access->size(), 1u);
}

}  // namespace
}  // namespace berth::auth
