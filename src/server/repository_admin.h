// The repository management API's side in the server (docs/api.md,
// "Repositories"): creates, updates and deletes repositories as a reload
// does (App applies the edited config: built, diffed and swapped the same
// way), and keeps those it created in the metadata database so that they
// come back at every start and survive every reload of the config file.
//
// The config file stays the authority for the repositories it defines: the
// API reads them but changes only its own, and a key the file comes to
// define is the file's (the API's definition is then left out, and logged).
//
// Thread safety: all methods may be called concurrently; changes run one at
// a time under App's reload lock.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>

#include "api/repository_manager.h"
#include "ops/reload_plan.h"

namespace berth::storage {
class RepositoryDefinitions;
class SqliteMetadataStore;
}  // namespace berth::storage
namespace berth::repo {
class UploadStore;
}

namespace berth::server {

class RepositoryAdmin final : public api::RepositoryManager {
 public:
  // Given the applied config, the config to apply next, or none (nothing changes).
  using Edit = std::function<std::optional<config::Config>(const config::Config& applied)>;
  // Runs `edit` and applies its config under the reload lock, then `done`
  // with the outcome (still under the lock).
  using Apply = std::function<ops::ReloadReport(const Edit& edit, const std::function<void(const ops::ReloadReport&)>& done,
                                                std::string_view trigger)>;

  RepositoryAdmin(std::shared_ptr<storage::RepositoryDefinitions> definitions,
                  std::shared_ptr<storage::SqliteMetadataStore> meta, std::shared_ptr<repo::UploadStore> uploads);
  // App's: set before serving.
  void setApply(Apply apply) { apply_ = std::move(apply); }
  void setCurrent(std::function<config::Config()> current) { current_ = std::move(current); }

  // The file's config with the API's repositories after its own, each that
  // validates beside them (one the file now defines, or whose members are
  // gone, is left out and logged; its definition is kept).
  config::Config compose(config::Config file);

  std::vector<api::RepositoryListing> list() override;
  Result<api::RepositoryChange> create(const std::string& key, const nlohmann::json& body) override;
  Result<api::RepositoryChange> update(const std::string& key, const nlohmann::json& body) override;
  Result<api::RepositoryChange> remove(const std::string& key) override;

 private:
  bool isManaged(const std::string& key);
  // The stored entry of `key`, which must serve now and be the API's:
  // NOT_FOUND, or BAD_REQUEST for the config file's.
  Result<std::string> storedEntry(const config::Config& applied, const std::string& key);

  std::shared_ptr<storage::RepositoryDefinitions> definitions_;
  std::shared_ptr<storage::SqliteMetadataStore> meta_;
  std::shared_ptr<repo::UploadStore> uploads_;
  Apply apply_;
  std::function<config::Config()> current_;
  std::mutex mu_;
  std::set<std::string> managed_;  // the API's keys that serve now (compose() decides)
};

}  // namespace berth::server
