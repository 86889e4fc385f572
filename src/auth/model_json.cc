#include "auth/model_json.h"

namespace berth::auth {
namespace {

using nlohmann::json;

tl::unexpected<Error> badField(const std::string& what) {
  return fail(ErrorCode::BadRequest, "invalid request body", what);
}

json actionsJson(const std::set<Action>& actions) {
  json a = json::array();
  for (Action x : actions) a.push_back(actionName(x));
  return a;
}

Result<std::set<Action>> actionsFrom(const json& j, const std::string& where) {
  if (!j.is_array()) return badField(where + " must be a list of actions");
  std::set<Action> out;
  for (const auto& a : j) {
    auto action = a.is_string() ? parseAction(a.get<std::string>()) : std::nullopt;
    if (!action) return badField(where + ": unknown action " + a.dump());
    out.insert(*action);
  }
  return out;
}

Result<std::vector<std::string>> strings(const json& j, const char* key, const std::string& where) {
  std::vector<std::string> out;
  if (!j.contains(key)) return out;
  if (!j[key].is_array()) return badField(where + "." + key + " must be a list of strings");
  for (const auto& s : j[key]) {
    if (!s.is_string()) return badField(where + "." + key + " must be a list of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::set<Action>>> grantsFrom(const json& j, const char* key) {
  std::map<std::string, std::set<Action>> out;
  if (!j.contains(key)) return out;
  if (!j[key].is_object()) return badField(std::string(key) + " must map names to action lists");
  for (const auto& [name, acts] : j[key].items()) {
    auto a = actionsFrom(acts, std::string(key) + "." + name);
    if (!a) return tl::unexpected(a.error());
    out[name] = *a;
  }
  return out;
}

}  // namespace

json toJson(const User& u, bool with_secrets) {
  json j{{"name", u.name}, {"groups", u.groups}, {"admin", u.admin}};
  if (with_secrets) {
    j["password_hash"] = u.password_hash;
    j["uid"] = u.uid;
    j["epoch"] = u.epoch;
  }
  if (u.disabled) j["disabled"] = true;
  return j;
}

json toJson(const Group& g, bool) { return {{"name", g.name}, {"description", g.description}, {"admin", g.admin}}; }

json toJson(const Permission& p, bool) {
  json users = json::object(), groups = json::object();
  for (const auto& [n, a] : p.users) users[n] = actionsJson(a);
  for (const auto& [n, a] : p.groups) groups[n] = actionsJson(a);
  return {{"name", p.name},       {"repositories", p.repositories}, {"include", p.include},
          {"exclude", p.exclude}, {"users", users},                 {"groups", groups}};
}

json toJson(const AccessToken& t, bool with_secrets) {
  json j{{"token_id", t.id},         {"user", t.user},       {"repositories", t.repositories},
         {"actions", actionsJson(t.actions)}, {"created", t.created}, {"expires", t.expires},
         {"description", t.description}};
  if (with_secrets) j["secret_hash"] = t.secret_hash;
  return j;
}

Result<User> userFromJson(const json& j, const std::string& name) {
  if (!j.is_object()) return badField("body must be a JSON object");
  User u;
  u.name = name;
  if (j.contains("password_hash")) {
    if (!j["password_hash"].is_string()) return badField("password_hash must be a string");
    u.password_hash = j["password_hash"].get<std::string>();
  }
  if (j.contains("uid") && j["uid"].is_string()) u.uid = j["uid"].get<std::string>();
  if (j.contains("epoch") && j["epoch"].is_number_integer()) u.epoch = j["epoch"].get<int64_t>();
  if (j.contains("disabled")) {
    if (!j["disabled"].is_boolean()) return badField("disabled must be true or false");
    u.disabled = j["disabled"].get<bool>();
  }
  auto groups = strings(j, "groups", "user");
  if (!groups) return tl::unexpected(groups.error());
  u.groups = *groups;
  if (j.contains("admin")) {
    if (!j["admin"].is_boolean()) return badField("admin must be true or false");
    u.admin = j["admin"].get<bool>();
  }
  return u;
}

Result<Group> groupFromJson(const json& j, const std::string& name) {
  if (!j.is_object()) return badField("body must be a JSON object");
  Group g;
  g.name = name;
  if (j.contains("description")) {
    if (!j["description"].is_string()) return badField("description must be a string");
    g.description = j["description"].get<std::string>();
  }
  if (j.contains("admin")) {
    if (!j["admin"].is_boolean()) return badField("admin must be true or false");
    g.admin = j["admin"].get<bool>();
  }
  return g;
}

Result<Permission> permissionFromJson(const json& j, const std::string& name) {
  if (!j.is_object()) return badField("body must be a JSON object");
  Permission p;
  p.name = name;
  auto repos = strings(j, "repositories", "permission");
  auto include = strings(j, "include", "permission");
  auto exclude = strings(j, "exclude", "permission");
  auto users = grantsFrom(j, "users");
  auto groups = grantsFrom(j, "groups");
  for (const Error* e : {repos ? nullptr : &repos.error(), include ? nullptr : &include.error(),
                         exclude ? nullptr : &exclude.error(), users ? nullptr : &users.error(),
                         groups ? nullptr : &groups.error()})
    if (e) return tl::unexpected(*e);
  p.repositories = *repos;
  if (j.contains("include")) p.include = *include;
  p.exclude = *exclude;
  p.users = *users;
  p.groups = *groups;
  return p;
}

Result<AccessToken> tokenFromJson(const json& j) {
  if (!j.is_object()) return badField("token must be a JSON object");
  AccessToken t;
  t.id = j.value("token_id", "");
  t.user = j.value("user", "");
  t.secret_hash = j.value("secret_hash", "");
  t.created = j.value("created", int64_t{0});
  t.expires = j.value("expires", int64_t{0});
  t.description = j.value("description", "");
  auto repos = strings(j, "repositories", "token");
  if (!repos) return tl::unexpected(repos.error());
  t.repositories = *repos;
  if (j.contains("actions")) {
    auto a = actionsFrom(j["actions"], "actions");
    if (!a) return tl::unexpected(a.error());
    t.actions = *a;
  }
  return t;
}

}  // namespace berth::auth
