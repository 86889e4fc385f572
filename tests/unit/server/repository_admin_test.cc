// The repository API's changes (server/repository_admin.h), applied by a
// stand-in for App: what is created persists, what the file defines is the
// file's, and a change that does not apply leaves the definitions as they were.
#include "server/repository_admin.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "berth/core/sha256.h"
#include "fakes/temp_dir.h"
#include "repo/upload_store.h"
#include "storage/fs_blob_store.h"
#include "storage/repository_definitions.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::server {
namespace {

using berth::testing::TempDir;
using nlohmann::json;

config::Repository fileLocal(const std::string& key) {
  config::Repository r;
  r.key = key;
  return r;
}

class RepositoryAdminTest : public ::testing::Test {
 protected:
  RepositoryAdminTest() {
    file_.repositories = {fileLocal("docker-local"), fileLocal("docker-dev")};
    start();
  }
  // A fresh admin over the same database, as after a restart.
  void start() {
    admin_ = std::make_unique<RepositoryAdmin>(std::make_shared<storage::RepositoryDefinitions>(dir_ / "m.db"), meta_,
                                               uploads_);
    applied_ = admin_->compose(file_);
    admin_->setCurrent([this] { return applied_; });
    admin_->setApply([this](const RepositoryAdmin::Edit& edit, const auto& done, std::string_view) {
      ops::ReloadReport report;
      auto next = edit(applied_);
      if (!next) return report;
      if (refuse_next_) {
        report.problems.push_back(config::ConfigProblem{});
        report.problems.back().message = "a repository could not be set up; the log says why";
      } else {
        applied_ = *next;
        report.applied = true;
      }
      if (done) done(report);
      return report;
    });
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& r : applied_.repositories) out.push_back(r.key);
    return out;
  }
  const config::Repository& find(const std::string& key) const {
    for (const auto& r : applied_.repositories)
      if (r.key == key) return r;
    throw std::runtime_error("no " + key);
  }
  std::string problemsOf(const Result<api::RepositoryChange>& r) const {
    return r ? std::string("(none)") : r.error().message + " " + r.error().detail;
  }

  TempDir dir_;
  storage::Paths paths_{dir_.path()};
  std::shared_ptr<storage::SqliteMetadataStore> meta_ = std::make_shared<storage::SqliteMetadataStore>(dir_ / "m.db");
  std::shared_ptr<storage::FsBlobStore> blobs_ = std::make_shared<storage::FsBlobStore>(paths_);
  std::shared_ptr<repo::UploadStore> uploads_ = std::make_shared<repo::UploadStore>(paths_, meta_, blobs_);
  config::Config file_;
  config::Config applied_;
  bool refuse_next_ = false;
  std::unique_ptr<RepositoryAdmin> admin_;
};

TEST_F(RepositoryAdminTest, CreatedRepositoriesComeBackAfterTheFilesInCreationOrder) {
  ASSERT_TRUE(admin_->create("zeta", json{{"rclass", "local"}, {"maxUniqueTags", 3}}));
  ASSERT_TRUE(admin_->create("alpha", json{{"rclass", "virtual"}, {"repositories", {"zeta", "docker-dev"}}}));
  EXPECT_EQ(keys(), (std::vector<std::string>{"docker-local", "docker-dev", "zeta", "alpha"}));
  start();  // a restart
  EXPECT_EQ(keys(), (std::vector<std::string>{"docker-local", "docker-dev", "zeta", "alpha"}));
  EXPECT_EQ(find("zeta").local.max_unique_tags, 3u);
  auto listed = admin_->list();
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_FALSE(listed[0].managed);
  EXPECT_TRUE(listed[3].managed);
}

TEST_F(RepositoryAdminTest, AVirtualUpdatedToTakeALaterRepositoryStillComesBack) {
  ASSERT_TRUE(admin_->create("v", json{{"rclass", "virtual"}, {"repositories", {"docker-dev"}}}));
  ASSERT_TRUE(admin_->create("later", json{{"rclass", "local"}}));
  auto r = admin_->update("v", json{{"repositories", {"later", "docker-dev"}}});
  ASSERT_TRUE(r) << problemsOf(r);
  start();
  EXPECT_EQ(keys(), (std::vector<std::string>{"docker-local", "docker-dev", "later", "v"}));
  EXPECT_EQ(find("v").virt.repositories, (std::vector<std::string>{"later", "docker-dev"}));
}

TEST_F(RepositoryAdminTest, TheFileDefinesItsOwnRepositories) {
  auto created = admin_->create("docker-dev", json{{"rclass", "local"}});
  ASSERT_FALSE(created);
  EXPECT_NE(created.error().message.find("already exists"), std::string::npos);
  auto updated = admin_->update("docker-dev", json{{"description", "x"}});
  ASSERT_FALSE(updated);
  EXPECT_NE(updated.error().message.find("defined in the configuration file"), std::string::npos);
  EXPECT_FALSE(admin_->remove("docker-local"));
  EXPECT_EQ(admin_->remove("nope").error().code, ErrorCode::NotFound);
  // A key the file comes to define is the file's: the API's definition is left out.
  ASSERT_TRUE(admin_->create("shared", json{{"rclass", "local"}, {"description", "api"}}));
  file_.repositories.push_back(fileLocal("shared"));
  start();
  EXPECT_EQ(keys(), (std::vector<std::string>{"docker-local", "docker-dev", "shared"}));
  EXPECT_EQ(find("shared").description, "");
  EXPECT_FALSE(admin_->update("shared", json{{"description", "x"}})) << "the file's now";
}

TEST_F(RepositoryAdminTest, UpdateChangesOnlyTheFieldsGiven) {
  ASSERT_TRUE(admin_->create("app", json{{"rclass", "local"}, {"maxUniqueTags", 3}, {"description", "a"}}));
  auto r = admin_->update("app", json{{"description", "b"}, {"someArtifactoryThing", 1}});
  ASSERT_TRUE(r) << problemsOf(r);
  EXPECT_EQ(r->ignored, (std::vector<std::string>{"someArtifactoryThing"}));
  EXPECT_EQ(find("app").description, "b");
  EXPECT_EQ(find("app").local.max_unique_tags, 3u);
  auto retyped = admin_->update("app", json{{"rclass", "remote"}});
  ASSERT_FALSE(retyped);
  EXPECT_NE(retyped.error().detail.find("rclass cannot change"), std::string::npos);
  EXPECT_FALSE(admin_->update("app", json{{"key", "other"}}));
}

TEST_F(RepositoryAdminTest, WhatDoesNotValidateChangesNothing) {
  auto bad = admin_->create("app", json{{"rclass", "local"}, {"maxUniqueTags", "many"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::BadRequest);
  EXPECT_NE(bad.error().detail.find("maxUniqueTags has the wrong type"), std::string::npos) << bad.error().detail;
  auto no_type = admin_->create("app", json{{"description", "x"}});
  ASSERT_FALSE(no_type);
  EXPECT_NE(no_type.error().detail.find("rclass is required"), std::string::npos);
  auto member = admin_->create("v", json{{"rclass", "virtual"}, {"repositories", {"ghost"}}});
  ASSERT_FALSE(member);
  EXPECT_NE(member.error().detail.find("member 'ghost' is not a repository"), std::string::npos)
      << member.error().detail;
  EXPECT_NE(member.error().detail.find("'v'"), std::string::npos);
  EXPECT_EQ(member.error().detail.find("repositories["), std::string::npos) << "no list positions";
  auto bad_key = admin_->create("Bad Key", json{{"rclass", "local"}});
  EXPECT_FALSE(bad_key);
  EXPECT_EQ(keys(), (std::vector<std::string>{"docker-local", "docker-dev"}));
  start();
  EXPECT_EQ(keys(), (std::vector<std::string>{"docker-local", "docker-dev"}));
}

TEST_F(RepositoryAdminTest, AChangeThatDoesNotApplyIsNotKept) {
  refuse_next_ = true;
  EXPECT_FALSE(admin_->create("app", json{{"rclass", "local"}}));
  refuse_next_ = false;
  ASSERT_TRUE(admin_->create("kept", json{{"rclass", "local"}, {"description", "before"}}));
  refuse_next_ = true;
  EXPECT_FALSE(admin_->update("kept", json{{"description", "after"}}));
  EXPECT_FALSE(admin_->remove("kept"));
  refuse_next_ = false;
  start();
  EXPECT_EQ(keys(), (std::vector<std::string>{"docker-local", "docker-dev", "kept"}));
  EXPECT_EQ(find("kept").description, "before");
}

TEST_F(RepositoryAdminTest, RemoveTakesTheContentAndWaitsForVirtualsToLetGo) {
  ASSERT_TRUE(admin_->create("app", json{{"rclass", "local"}}));
  ASSERT_TRUE(admin_->create("v", json{{"rclass", "virtual"}, {"repositories", {"app"}}}));
  storage::ManifestWrite w;
  std::string layer = "layer", manifest = "manifest";
  ASSERT_TRUE(meta_->linkBlob("app", "img", Sha256::of(layer), layer.size()));
  w.record = {"app", "img", Sha256::of(manifest), "application/vnd.oci.image.manifest.v1+json", manifest.size(),
              "", "", "", 0};
  w.blobs.push_back(Sha256::of(layer));
  w.tag = "v1";
  ASSERT_TRUE(meta_->putManifest(w));
  auto held = admin_->remove("app");
  ASSERT_FALSE(held);
  EXPECT_NE(held.error().detail.find("member 'app'"), std::string::npos) << held.error().detail;
  ASSERT_TRUE(admin_->remove("v"));
  ASSERT_TRUE(admin_->remove("app"));
  EXPECT_EQ(keys(), (std::vector<std::string>{"docker-local", "docker-dev"}));
  EXPECT_FALSE(*meta_->imageExists("app", "img"));
  EXPECT_FALSE(meta_->resolveTag("app", "img", "v1")->has_value());
  EXPECT_FALSE(meta_->linkedBlobSize("app", "img", Sha256::of(layer))->has_value());
  EXPECT_FALSE(*meta_->blobReferenced(Sha256::of(layer)));
  start();
  EXPECT_EQ(keys(), (std::vector<std::string>{"docker-local", "docker-dev"}));
}

}  // namespace
}  // namespace berth::server
