#include "server/repository_set.h"

#include <gtest/gtest.h>

#include "fakes/temp_dir.h"
#include "repo/live_repositories.h"
#include "repo/upload_store.h"
#include "storage/fs_blob_store.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::server {
namespace {

using berth::testing::TempDir;

config::Repository local(const std::string& key) {
  config::Repository r;
  r.key = key;
  return r;
}

config::Repository virtualOver(const std::string& key, std::vector<std::string> members, std::string deploy = {}) {
  config::Repository r;
  r.key = key;
  r.type = config::RepoType::Virtual;
  r.virt.repositories = std::move(members);
  r.virt.default_deployment_repo = std::move(deploy);
  return r;
}

class RepositorySetTest : public ::testing::Test {
 protected:
  TempDir dir_;
  storage::Paths paths_{dir_.path()};
  std::shared_ptr<storage::SqliteMetadataStore> meta_ = std::make_shared<storage::SqliteMetadataStore>(dir_ / "m.db");
  std::shared_ptr<storage::FsBlobStore> blobs_ = std::make_shared<storage::FsBlobStore>(paths_);
  std::shared_ptr<repo::UploadStore> uploads_ = std::make_shared<repo::UploadStore>(paths_, meta_, blobs_);
  RepositorySetBuilder builder_{blobs_, meta_, uploads_};
};

TEST_F(RepositorySetTest, KeepsUnchangedObjectsAndBuildsTheRest) {
  std::vector<config::Repository> before{local("same"), local("changed"), local("gone"), virtualOver("v", {"changed"})};
  auto first = builder_.build(before, nullptr, nullptr);
  ASSERT_EQ(first->all().size(), 4u);

  auto after = before;
  after[1].local.max_unique_tags = 3;
  after.erase(after.begin() + 2);  // "gone"
  after.push_back(local("new"));
  auto plan = ops::planRepositories(before, after);
  auto second = builder_.build(after, first.get(), &plan);

  EXPECT_EQ(second->find("same"), first->find("same")) << "an unchanged repository keeps its object";
  ASSERT_NE(second->find("changed"), nullptr);
  EXPECT_NE(second->find("changed"), first->find("changed"));
  EXPECT_EQ(second->find("changed")->settings().local.max_unique_tags, 3u);
  EXPECT_EQ(second->find("gone"), nullptr);
  EXPECT_NE(second->find("new"), nullptr);
  // A virtual repository is built anew even when its settings did not change:
  // it is bound to the new snapshot's members, the old one to the old.
  EXPECT_NE(second->find("v"), first->find("v"));
}

TEST_F(RepositorySetTest, AVirtualRepositoryWritesToTheMemberOfItsOwnSnapshot) {
  std::vector<config::Repository> before{local("target"), virtualOver("v", {"target"}, "target")};
  auto first = builder_.build(before, nullptr, nullptr);
  auto after = before;
  after[0].description = "rebuilt";
  auto plan = ops::planRepositories(before, after);
  auto second = builder_.build(after, first.get(), &plan);
  EXPECT_EQ(first->find("v")->writeTarget(), first->find("target"));
  EXPECT_EQ(second->find("v")->writeTarget(), second->find("target"));
}

TEST_F(RepositorySetTest, AMissingMemberFailsTheBuildAndNothingIsPublished) {
  auto first = builder_.build({local("a")}, nullptr, nullptr);
  repo::LiveRepositories live(first);
  std::vector<config::Repository> bad{local("a"), virtualOver("v", {"nowhere"})};
  auto plan = ops::planRepositories({local("a")}, bad);
  EXPECT_THROW(builder_.build(bad, first.get(), &plan), std::runtime_error);
  EXPECT_EQ(live.current(), first);
}

TEST_F(RepositorySetTest, AHeldSnapshotOutlivesItsReplacement) {
  std::vector<config::Repository> before{local("a")};
  repo::LiveRepositories live(builder_.build(before, nullptr, nullptr));
  auto held = live.current();  // a request in flight
  std::weak_ptr<repo::Repository> a = held->all().front();
  auto plan = ops::planRepositories(before, {});
  live.publish(builder_.build({}, held.get(), &plan));
  EXPECT_EQ(live.current()->find("a"), nullptr);
  ASSERT_FALSE(a.expired()) << "the request still holds the old repository";
  EXPECT_EQ(held->find("a")->key(), "a");
  held.reset();  // the request ends
  EXPECT_TRUE(a.expired());
}

}  // namespace
}  // namespace berth::server
