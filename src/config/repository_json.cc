#include "config/repository_json.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <string_view>

namespace berth::config {
namespace {

using nlohmann::json;

// How a field's value is taken. The parser checks the types of what is
// passed on; only what it cannot see (an object, milliseconds) is checked here.
enum class Kind { Scalar, List, Millis };

struct Field {
  std::string_view api;    // Artifactory's name
  std::string_view entry;  // the config file's key path
  Kind kind;
};

constexpr Field kFields[] = {
    {"key", "key", Kind::Scalar},
    {"rclass", "type", Kind::Scalar},
    {"description", "description", Kind::Scalar},
    {"port", "port", Kind::Scalar},
    {"maxUniqueTags", "max_unique_tags", Kind::Scalar},
    {"protectedTags", "protected_tags", Kind::List},
    {"url", "url", Kind::Scalar},
    {"username", "username", Kind::Scalar},
    {"password", "password", Kind::Scalar},
    {"offline", "offline", Kind::Scalar},
    {"retrievalCachePeriodSecs", "metadata_ttl_seconds", Kind::Scalar},
    {"socketTimeoutMillis", "timeout_seconds", Kind::Millis},
    {"maxBlobBytes", "max_blob_bytes", Kind::Scalar},
    {"unusedArtifactsCleanupPeriodHours", "cache_retention_hours", Kind::Scalar},
    {"externalDependenciesEnabled", "foreign_layers.enabled", Kind::Scalar},
    {"externalDependenciesPatterns", "foreign_layers.include", Kind::List},
    {"repositories", "repositories", Kind::List},
    {"defaultDeploymentRepo", "default_deployment_repo", Kind::Scalar},
    {"resolveDockerTagsByTimestamp", "resolve_tags_by_latest_timestamp", Kind::Scalar},
};

// A path on the server is the config file's to name: through the API it
// would let a caller probe the server's files.
constexpr std::string_view kFileOnly[] = {"ca_file", "caFile"};

const Field* findField(std::string_view name) {
  for (const auto& f : kFields)
    if (f.api == name || f.entry == name) return &f;
  return nullptr;
}

// entry["a.b"] as entry["a"]["b"]; `value` null removes it.
void setPath(json& entry, std::string_view path, json value) {
  auto dot = path.find('.');
  if (dot == std::string_view::npos) {
    if (value.is_null()) entry.erase(std::string(path));
    else entry[std::string(path)] = std::move(value);
    return;
  }
  std::string head(path.substr(0, dot));
  if (value.is_null() && !entry.contains(head)) return;
  json& inner = entry[head];
  if (!inner.is_object()) inner = json::object();
  setPath(inner, path.substr(dot + 1), std::move(value));
  if (inner.empty()) entry.erase(head);
}

std::string lowered(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The value to keep for field `f` given as `name`, or a problem.
std::string take(const Field& f, const std::string& name, json value, json& out) {
  if (value.is_object()) return name + " must not be an object";
  if (f.kind == Kind::List && !value.is_null()) {
    if (!value.is_array()) return name + " must be a list of strings";
    for (const auto& v : value)
      if (!v.is_string()) return name + " must be a list of strings";
  } else if (value.is_array()) {
    return name + " must not be a list";
  }
  if (f.kind == Kind::Millis && !value.is_null() && f.api == name) {
    if (!value.is_number_unsigned()) return name + " must be a non-negative integer (milliseconds)";
    value = (value.get<uint64_t>() + 999) / 1000;  // whole seconds, never shorter than asked
  }
  if (f.entry == "type" && value.is_string()) value = lowered(value.get<std::string>());
  out = std::move(value);
  return {};
}

}  // namespace

const char* repoTypeName(RepoType t) {
  switch (t) {
    case RepoType::Local: return "local";
    case RepoType::Remote: return "remote";
    case RepoType::Virtual: return "virtual";
  }
  return "local";
}

ApiFieldsApplied applyApiFields(const json& body, json& entry) {
  ApiFieldsApplied out;
  if (!entry.is_object()) entry = json::object();
  for (const auto& [name, value] : body.items()) {
    if (name == "packageType") {
      if (!value.is_string() || lowered(value.get<std::string>()) != "docker")
        out.problems.push_back("packageType must be docker: Berth serves Docker and OCI repositories");
      continue;
    }
    bool file_only = false;
    for (auto f : kFileOnly) file_only = file_only || f == name;
    if (file_only) {
      out.problems.push_back(name + " names a file on the server: set it in the config file");
      continue;
    }
    const Field* f = findField(name);
    if (!f) {
      out.ignored.push_back(name);
      continue;
    }
    json kept;
    if (auto problem = take(*f, name, value, kept); !problem.empty()) {
      out.problems.push_back(std::move(problem));
      continue;
    }
    out.named_as[std::string(f->entry)] = name;
    setPath(entry, f->entry, std::move(kept));
  }
  return out;
}

YAML::Node entryNode(const json& entry) {
  switch (entry.type()) {
    case json::value_t::object: {
      YAML::Node n(YAML::NodeType::Map);
      for (const auto& [k, v] : entry.items())
        if (!v.is_null()) n[k] = entryNode(v);
      return n;
    }
    case json::value_t::array: {
      YAML::Node n(YAML::NodeType::Sequence);
      for (const auto& v : entry) n.push_back(entryNode(v));
      return n;
    }
    case json::value_t::string: return YAML::Node(entry.get<std::string>());
    case json::value_t::null: return YAML::Node(YAML::NodeType::Null);
    default: return YAML::Node(entry.dump());  // numbers and booleans, as the file would spell them
  }
}

json repositoryJson(const Repository& r, bool with_username) {
  json j{{"key", r.key},
         {"rclass", repoTypeName(r.type)},
         {"packageType", "docker"},
         {"dockerApiVersion", "V2"},
         {"description", r.description}};
  if (r.port != 0) j["port"] = r.port;
  switch (r.type) {
    case RepoType::Local:
      j["maxUniqueTags"] = r.local.max_unique_tags;
      j["protectedTags"] = r.local.protected_tags;
      break;
    case RepoType::Remote:
      j["url"] = r.remote.url;
      if (with_username) j["username"] = r.remote.username;
      j["password"] = "";
      j["offline"] = r.remote.offline;
      j["retrievalCachePeriodSecs"] = r.remote.metadata_ttl_seconds;
      j["socketTimeoutMillis"] = uint64_t{r.remote.timeout_seconds} * 1000;
      j["maxBlobBytes"] = r.remote.max_blob_bytes;
      j["unusedArtifactsCleanupPeriodHours"] = r.remote.cache_retention_hours;
      j["externalDependenciesEnabled"] = r.remote.foreign_layers.enabled;
      j["externalDependenciesPatterns"] = r.remote.foreign_layers.include;
      break;
    case RepoType::Virtual:
      j["repositories"] = r.virt.repositories;
      j["defaultDeploymentRepo"] = r.virt.default_deployment_repo;
      j["resolveDockerTagsByTimestamp"] = r.virt.resolve_tags_by_latest_timestamp;
      break;
  }
  return j;
}

}  // namespace berth::config
