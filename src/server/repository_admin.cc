#include "server/repository_admin.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>

#include "config/problems.h"
#include "config/repository_config.h"
#include "config/repository_json.h"
#include "repo/upload_store.h"
#include "storage/repository_definitions.h"
#include "storage/sqlite_metadata_store.h"

namespace berth::server {
namespace {

using nlohmann::json;
constexpr const char* kOrigin = "repository API";
constexpr const char* kWhere = "repository";  // what the parser's messages start with

// A parser's message in the client's terms: the field as the client named
// it, without the config file's list position.
std::string clientMessage(std::string m, const std::map<std::string, std::string>& named_as) {
  static const std::regex list_place(R"(^repositories\[\d+\]\.?\s*)");
  m = std::regex_replace(m, list_place, "");
  const std::string prefix = std::string(kWhere) + ".";
  if (m.starts_with("unknown key " + prefix)) m = "unknown field " + m.substr(12 + prefix.size());
  if (m.starts_with(prefix)) {
    std::string rest = m.substr(prefix.size());
    auto end = rest.find(' ');
    std::string path = rest.substr(0, end);
    auto named = named_as.find(path);
    if (named != named_as.end()) m = named->second + (end == std::string::npos ? "" : rest.substr(end));
    else m = rest;
  } else if (m.starts_with(std::string(kWhere) + ": ")) {
    m = m.substr(std::string(kWhere).size() + 2);
  }
  return m;
}

tl::unexpected<Error> invalid(const std::vector<std::string>& problems) {
  json list = json::array();
  for (const auto& p : problems) list.push_back({{"message", p}});
  return fail(ErrorCode::BadRequest, "the repository configuration does not validate; nothing changed", list.dump());
}

// The entry read as the config file's parser reads one, or its problems.
std::optional<config::Repository> parseEntry(const json& entry, const std::map<std::string, std::string>& named_as,
                                             std::vector<std::string>& problems) {
  config::ProblemCollector collector;
  config::Repository r = config::readRepository(config::entryNode(entry), kOrigin, kWhere);
  for (const auto& p : collector.problems()) problems.push_back(clientMessage(p.message, named_as));
  if (!problems.empty()) return std::nullopt;
  return r;
}

// The repositories of `next` checked against each other and the server.
std::vector<std::string> crossProblems(const config::Config& next, const std::map<std::string, std::string>& named_as) {
  config::ProblemCollector collector;
  collector.guard([&] { config::validateRepositories(next, kOrigin); });
  std::vector<std::string> out;
  for (const auto& p : collector.problems()) out.push_back(clientMessage(p.message, named_as));
  return out;
}

std::vector<config::Repository>::const_iterator findKey(const config::Config& c, const std::string& key) {
  return std::find_if(c.repositories.begin(), c.repositories.end(), [&](const auto& r) { return r.key == key; });
}

tl::unexpected<Error> unknownKey(const std::string& key) {
  return fail(ErrorCode::NotFound, "repository '" + key + "' does not exist");
}

tl::unexpected<Error> fileDefined(const std::string& key) {
  return fail(ErrorCode::BadRequest, "repository '" + key +
                                         "' is defined in the configuration file: change it there and reload "
                                         "(SIGHUP or POST /api/system/reload)");
}

tl::unexpected<Error> notApplied(const ops::ReloadReport& report) {
  std::vector<std::string> problems;
  for (const auto& p : report.problems) problems.push_back(p.message);
  return invalid(problems);
}

tl::unexpected<Error> storeFailed(const Error& e) {
  spdlog::error("repository API: the repository definitions could not be written: {}", e.message);
  return fail(ErrorCode::Unknown, "the repository definitions could not be written");
}

}  // namespace

RepositoryAdmin::RepositoryAdmin(std::shared_ptr<storage::RepositoryDefinitions> definitions,
                                 std::shared_ptr<storage::SqliteMetadataStore> meta,
                                 std::shared_ptr<repo::UploadStore> uploads)
    : definitions_(std::move(definitions)), meta_(std::move(meta)), uploads_(std::move(uploads)) {}

config::Config RepositoryAdmin::compose(config::Config file) {
  auto defs = definitions_->all();
  if (!defs) {
    spdlog::error("repository API: the stored repositories could not be read: {}", defs.error().message);
    defs = std::vector<storage::RepositoryDefinition>{};
  }
  std::vector<std::pair<std::string, config::Repository>> pending;  // (key, repository), in creation order
  for (const auto& d : *defs) {
    std::vector<std::string> problems;
    auto entry = json::parse(d.entry, nullptr, false);
    auto r = entry.is_discarded() ? std::nullopt : parseEntry(entry, {}, problems);
    if (!r) {
      spdlog::error("repository API: the stored repository '{}' does not read back; left out: {}", d.key,
                    problems.empty() ? "not JSON" : problems.front());
      continue;
    }
    if (findKey(file, d.key) != file.repositories.end()) {
      spdlog::warn("repository '{}' is defined by the configuration file and through the API: the file's serves",
                   d.key);
      continue;
    }
    pending.emplace_back(d.key, std::move(*r));
  }
  // Each in turn, as long as one more fits: a virtual repository updated to
  // take a member created after it comes after that member.
  std::set<std::string> managed;
  for (bool progress = true; progress && !pending.empty();) {
    progress = false;
    for (auto it = pending.begin(); it != pending.end();) {
      file.repositories.push_back(it->second);
      if (crossProblems(file, {}).empty()) {
        managed.insert(it->first);
        it = pending.erase(it);
        progress = true;
      } else {
        file.repositories.pop_back();
        ++it;
      }
    }
  }
  for (const auto& [key, r] : pending) {
    file.repositories.push_back(r);
    auto problems = crossProblems(file, {});
    file.repositories.pop_back();
    spdlog::error("repository API: the stored repository '{}' does not fit beside the others; left out: {}", key,
                  problems.empty() ? "" : problems.front());
  }
  std::lock_guard lock(mu_);
  managed_ = std::move(managed);
  return file;
}

Result<std::string> RepositoryAdmin::storedEntry(const config::Config& applied, const std::string& key) {
  if (findKey(applied, key) == applied.repositories.end()) return unknownKey(key);
  if (!isManaged(key)) return fileDefined(key);
  auto defs = definitions_->all();
  if (!defs) return storeFailed(defs.error());
  for (const auto& d : *defs)
    if (d.key == key) return d.entry;
  return unknownKey(key);
}

bool RepositoryAdmin::isManaged(const std::string& key) {
  std::lock_guard lock(mu_);
  return managed_.count(key) > 0;
}

std::vector<api::RepositoryListing> RepositoryAdmin::list() {
  std::vector<api::RepositoryListing> out;
  for (auto& r : current_().repositories) {
    bool managed = isManaged(r.key);
    out.push_back({std::move(r), managed});
  }
  return out;
}

Result<api::RepositoryChange> RepositoryAdmin::create(const std::string& key, const json& body) {
  json entry = json::object();
  auto fields = config::applyApiFields(body, entry);
  if (entry.contains("key") && entry["key"] != key)
    fields.problems.push_back("key must be the repository key of the URL ('" + key + "')");
  if (!entry.contains("type")) fields.problems.push_back("rclass is required: local, remote or virtual");
  entry["key"] = key;
  if (!fields.problems.empty()) return invalid(fields.problems);

  Result<api::RepositoryChange> out = api::RepositoryChange{};
  auto edit = [&](const config::Config& applied) -> std::optional<config::Config> {
    if (findKey(applied, key) != applied.repositories.end()) {
      out = fail(ErrorCode::BadRequest, "repository '" + key + "' already exists");
      return std::nullopt;
    }
    std::vector<std::string> problems;
    auto r = parseEntry(entry, fields.named_as, problems);
    if (!r) {
      out = invalid(problems);
      return std::nullopt;
    }
    config::Config next = applied;
    next.repositories.push_back(std::move(*r));
    if (problems = crossProblems(next, fields.named_as); !problems.empty()) {
      out = invalid(problems);
      return std::nullopt;
    }
    if (auto st = definitions_->put(key, entry.dump()); !st) {
      out = storeFailed(st.error());
      return std::nullopt;
    }
    return next;
  };
  auto done = [&](const ops::ReloadReport& report) {
    if (!out) return;
    if (!report.applied) {
      (void)definitions_->remove(key);
      out = notApplied(report);
      return;
    }
    std::lock_guard lock(mu_);
    managed_.insert(key);
  };
  auto report = apply_(edit, done, "PUT /api/repositories/" + key);
  if (out) out->needs_restart = report.needs_restart, out->ignored = fields.ignored;
  return out;
}

Result<api::RepositoryChange> RepositoryAdmin::update(const std::string& key, const json& body) {
  Result<api::RepositoryChange> out = api::RepositoryChange{};
  std::optional<std::string> before;  // the stored entry, put back if the change does not apply
  config::ApiFieldsApplied fields;
  auto edit = [&](const config::Config& applied) -> std::optional<config::Config> {
    auto stored = storedEntry(applied, key);
    if (!stored) return out = tl::unexpected(stored.error()), std::nullopt;
    before = *stored;
    auto at = findKey(applied, key);
    json entry = json::parse(*before, nullptr, false);
    if (!entry.is_object()) entry = json::object();
    // Compared as JSON: a body may give any type, and only the parser says what is wrong with it.
    const json old_type = entry.value("type", json("local")), old_url = entry.value("url", json());
    const bool had_password = entry.contains("password");
    fields = config::applyApiFields(body, entry);
    if (entry.value("key", json(key)) != json(key))
      fields.problems.push_back("key cannot change (it is the repository's URL)");
    if (entry.value("type", json("local")) != old_type)
      fields.problems.push_back("rclass cannot change: delete the repository and create it anew");
    // The stored password is for the upstream it was given with: whoever may
    // manage the repository must not send it elsewhere without knowing it.
    if (had_password && entry.value("url", json()) != old_url && !fields.named_as.count("password"))
      fields.problems.push_back("password must be given again (or null) when url changes");
    entry["key"] = key;
    std::vector<std::string> problems = fields.problems;
    std::optional<config::Repository> r;
    if (problems.empty()) r = parseEntry(entry, fields.named_as, problems);
    if (!r) return out = invalid(problems), std::nullopt;
    config::Config next = applied;
    next.repositories[static_cast<std::size_t>(at - applied.repositories.begin())] = std::move(*r);
    if (problems = crossProblems(next, fields.named_as); !problems.empty()) return out = invalid(problems), std::nullopt;
    if (auto st = definitions_->put(key, entry.dump()); !st) return out = storeFailed(st.error()), std::nullopt;
    return next;
  };
  auto done = [&](const ops::ReloadReport& report) {
    if (!out || report.applied) return;
    (void)definitions_->put(key, *before);
    out = notApplied(report);
  };
  auto report = apply_(edit, done, "POST /api/repositories/" + key);
  if (out) out->needs_restart = report.needs_restart, out->ignored = fields.ignored;
  return out;
}

Result<api::RepositoryChange> RepositoryAdmin::remove(const std::string& key) {
  Result<api::RepositoryChange> out = api::RepositoryChange{};
  std::optional<std::string> before;
  auto edit = [&](const config::Config& applied) -> std::optional<config::Config> {
    auto stored = storedEntry(applied, key);
    if (!stored) return out = tl::unexpected(stored.error()), std::nullopt;
    before = *stored;
    auto at = findKey(applied, key);
    config::Config next = applied;
    next.repositories.erase(next.repositories.begin() + (at - applied.repositories.begin()));
    // A virtual repository that lists it must let go of it first.
    if (auto problems = crossProblems(next, {}); !problems.empty()) return out = invalid(problems), std::nullopt;
    if (auto st = definitions_->remove(key); !st) return out = storeFailed(st.error()), std::nullopt;
    return next;
  };
  auto done = [&](const ops::ReloadReport& report) {
    if (!out) return;
    if (!report.applied) {
      if (before) (void)definitions_->put(key, *before);
      out = notApplied(report);
      return;
    }
    {
      std::lock_guard lock(mu_);
      managed_.erase(key);
    }
    // Under the reload lock: a repository created again with this key right
    // after must not lose what it is given. Requests that still hold the
    // old repository may write a little after this; their rows wait unseen
    // (no repository serves them) and a new repository of the key sees them.
    auto images = meta_->deleteRepositoryContent(key);
    auto sessions = uploads_->endSessionsOf(key);
    if (!images) {
      spdlog::error("repository '{}' deleted, but its content could not be removed: {}", key, images.error().message);
      out = fail(ErrorCode::Unknown, "the repository is deleted, but its content could not be removed");
      return;
    }
    spdlog::info("repository '{}' deleted with its content: {} images, {} upload sessions", key, *images, sessions);
  };
  auto report = apply_(edit, done, "DELETE /api/repositories/" + key);
  if (out) out->needs_restart = report.needs_restart;
  return out;
}

}  // namespace berth::server
