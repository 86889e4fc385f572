// Builds the repositories a config names into one immutable registry
// snapshot (repo/live_repositories.h publishes it). At start every
// repository is new; on a reload the objects of repositories whose settings
// did not change are carried over from the running snapshot (their caches,
// fetches in flight and upload sessions go on), changed and new ones are
// built, and virtual repositories are always built anew, bound to the new
// snapshot's members: a virtual object never changes once bound, so a
// request still holding the old snapshot keeps its old members alive and
// consistent.
//
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "berth/config.h"
#include "berth/repo/repository.h"
#include "ops/reload_plan.h"

namespace berth::http {
class HttpClient;
}
namespace berth::repo {
class UploadStore;
}

namespace berth::server {

class RepositorySetBuilder {
 public:
  RepositorySetBuilder(storage::BlobStorePtr blobs, storage::MetadataStorePtr meta,
                       std::shared_ptr<repo::UploadStore> uploads);

  // Every repository of `repos`, those of `plan.kept` taken from `running`
  // (null at start: all are built). Throws std::runtime_error when one cannot
  // be set up; nothing built is used then.
  std::shared_ptr<const repo::RepositoryRegistry> build(const std::vector<config::Repository>& repos,
                                                        const repo::RepositoryRegistry* running,
                                                        const ops::RepositoryPlan* plan);

  // Shuts down the outbound clients of every remote repository still alive,
  // in whatever snapshot holds it (the drain at stop).
  void shutdownOutbound();

 private:
  repo::RepositoryPtr make(const config::Repository& r);

  storage::BlobStorePtr blobs_;
  storage::MetadataStorePtr meta_;
  std::shared_ptr<repo::UploadStore> uploads_;
  std::mutex mu_;
  std::vector<std::weak_ptr<http::HttpClient>> outbound_;  // guarded by mu_; pruned as remotes go
};

}  // namespace berth::server
