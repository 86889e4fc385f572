#include "server/repository_set.h"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "http/client.h"
#include "repo/local_repository.h"
#include "repo/remote/remote_repository.h"
#include "repo/upload_store.h"
#include "repo/virtual/virtual_repository.h"

namespace berth::server {
namespace {

bool listed(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

repo::RepositoryPtr runningObject(const repo::RepositoryRegistry& running, const std::string& key) {
  for (const auto& r : running.all())
    if (r->key() == key) return r;
  return nullptr;
}

}  // namespace

RepositorySetBuilder::RepositorySetBuilder(storage::BlobStorePtr blobs, storage::MetadataStorePtr meta,
                                           std::shared_ptr<repo::UploadStore> uploads)
    : blobs_(std::move(blobs)), meta_(std::move(meta)), uploads_(std::move(uploads)) {}

repo::RepositoryPtr RepositorySetBuilder::make(const config::Repository& r) {
  if (r.type == config::RepoType::Virtual) {
    spdlog::info("repository {}: virtual over [{}], pushes to {}", r.key, fmt::join(r.virt.repositories, ", "),
                 r.virt.default_deployment_repo.empty() ? "(none)" : r.virt.default_deployment_repo);
    return std::make_shared<repo::VirtualRepository>(r, meta_);
  }
  if (r.type == config::RepoType::Remote) {
    // One client per remote: each has its own timeout, CA bundle and pool.
    http::ClientOptions co;
    co.timeout = std::chrono::seconds(r.remote.timeout_seconds);
    co.ca_file = r.remote.ca_file;
    co.proxy = http::ProxyConfig::fromEnvironment();
    auto client = std::make_shared<http::HttpClient>(co);
    {
      std::lock_guard lock(mu_);
      std::erase_if(outbound_, [](const auto& w) { return w.expired(); });
      outbound_.push_back(client);
    }
    spdlog::info("repository {}: remote, upstream {}{}", r.key, r.remote.url, r.remote.offline ? " (offline)" : "");
    return std::make_shared<repo::remote::RemoteRepository>(r, blobs_, meta_, uploads_, client);
  }
  return std::make_shared<repo::LocalRepository>(r, blobs_, meta_, uploads_);
}

std::shared_ptr<const repo::RepositoryRegistry> RepositorySetBuilder::build(
    const std::vector<config::Repository>& repos, const repo::RepositoryRegistry* running,
    const ops::RepositoryPlan* plan) {
  auto next = std::make_shared<repo::RepositoryRegistry>();
  std::vector<std::shared_ptr<repo::VirtualRepository>> virtuals;
  for (const auto& r : repos) {
    repo::RepositoryPtr obj;
    if (running && plan && r.type != config::RepoType::Virtual && listed(plan->kept, r.key))
      obj = runningObject(*running, r.key);
    if (!obj) obj = make(r);
    if (r.type == config::RepoType::Virtual) virtuals.push_back(std::static_pointer_cast<repo::VirtualRepository>(obj));
    next->add(std::move(obj));
  }
  // Members may be defined after the virtual repository that lists them.
  for (auto& v : virtuals) v->bind(*next);
  return next;
}

void RepositorySetBuilder::shutdownOutbound() {
  std::vector<std::shared_ptr<http::HttpClient>> alive;
  {
    std::lock_guard lock(mu_);
    for (const auto& w : outbound_)
      if (auto c = w.lock()) alive.push_back(std::move(c));
  }
  for (auto& c : alive) c->shutdown();
}

}  // namespace berth::server
