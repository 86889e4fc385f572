#include "integration/support/token_issuer.h"

#include <openssl/rand.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace berth::it {
namespace {

long long unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string rfc3339(long long t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "repository:app/x:pull,push" -> {"type","name","actions"}; the name may hold ':' (host:port).
nlohmann::json accessOf(const std::string& scope, bool anonymous) {
  auto first = scope.find(':'), last = scope.rfind(':');
  if (first == std::string::npos || first == last) return nullptr;
  nlohmann::json actions = nlohmann::json::array();
  std::string list = scope.substr(last + 1);
  for (std::size_t pos = 0; pos <= list.size();) {
    auto comma = list.find(',', pos);
    std::string action = list.substr(pos, comma - pos);
    if (!action.empty() && (!anonymous || action == "pull")) actions.push_back(action);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return {{"type", scope.substr(0, first)}, {"name", scope.substr(first + 1, last - first - 1)}, {"actions", actions}};
}

}  // namespace

TokenIssuer::TokenIssuer(TokenIssuerOptions options)
    : options_(std::move(options)),
      key_(options_.key_type),
      cert_pem_(selfSignedCert(key_, options_.issuer)),
      cert_der_(certDer(cert_pem_)),
      server_(std::make_unique<HttpServer>([this](ServerExchange& ex) { handle(ex); }, options_.address)) {}

TokenIssuer::~TokenIssuer() { server_->stop(); }

std::string TokenIssuer::issue(const std::vector<std::string>& scopes, const std::string& subject,
                               const std::string& audience) {
  nlohmann::json header{{"typ", "JWT"}, {"alg", key_.jwsAlgorithm()}};
  if (options_.key_id_header)
    header["kid"] = key_.libtrustKeyId();
  else
    header["x5c"] = {base64Std(cert_der_)};
  nlohmann::json access = nlohmann::json::array();
  for (const auto& s : scopes)
    if (auto a = accessOf(s, subject.empty()); !a.is_null()) access.push_back(a);
  unsigned char jti[12];
  RAND_bytes(jti, sizeof jti);
  long long now = unixNow();
  std::lock_guard lock(mu_);
  long long exp = now + options_.lifetime;
  nlohmann::json claims{{"iss", options_.issuer},
                        {"sub", subject},
                        {"aud", audience.empty() ? options_.service : audience},  // a string: 2.8.2 refuses an array
                        {"exp", exp},
                        {"nbf", now - 1},
                        {"iat", now},
                        {"jti", base64Url(std::string(reinterpret_cast<char*>(jti), sizeof jti))},
                        {"access", access}};
  std::string input = base64Url(header.dump()) + "." + base64Url(claims.dump());
  std::string token = input + "." + base64Url(key_.signJws(input));
  issued_[token] = exp;
  return token;
}

bool TokenIssuer::accepts(const std::string& token) const {
  std::lock_guard lock(mu_);
  auto it = issued_.find(token);
  return it != issued_.end() && unixNow() < it->second;
}

void TokenIssuer::revokeAll() {
  std::lock_guard lock(mu_);
  issued_.clear();
}

void TokenIssuer::setExpiresIn(int seconds) {
  std::lock_guard lock(mu_);
  options_.expires_in = seconds;
}

void TokenIssuer::setLifetime(int seconds) {
  std::lock_guard lock(mu_);
  options_.lifetime = seconds;
}

int TokenIssuer::requests() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(log_.size());
}

std::vector<TokenRequest> TokenIssuer::log() const {
  std::lock_guard lock(mu_);
  return log_;
}

void TokenIssuer::handle(ServerExchange& ex) {
  const ServerRequest& req = ex.request();
  TokenRequest entry{req.method, {}, {}, {}, 0};
  // GET carries everything in the query; the OAuth2 POST in a form body.
  ServerRequest form = req;
  if (req.method == "POST") form.query = req.body;
  entry.service = form.param("service");
  entry.scopes = form.params("scope");
  std::string user, password;
  if (std::string auth = req.headers.get("Authorization"); auth.starts_with("Basic ")) {
    std::string decoded = base64Decode(auth.substr(6));
    auto colon = decoded.find(':');
    user = decoded.substr(0, colon);
    password = colon == std::string::npos ? "" : decoded.substr(colon + 1);
  } else if (req.method == "POST" && form.param("grant_type") == "password") {
    user = form.param("username");
    password = form.param("password");
  }
  if (req.method == "POST" && entry.scopes.size() == 1) {  // the form's scope is space-separated
    std::string all = entry.scopes[0];
    entry.scopes.clear();
    for (std::size_t pos = 0; pos < all.size();) {
      auto sp = all.find(' ', pos);
      entry.scopes.push_back(all.substr(pos, sp - pos));
      pos = sp == std::string::npos ? all.size() : sp + 1;
    }
  }
  bool known = false, refused = false;
  {
    std::lock_guard lock(mu_);
    auto it = options_.users.find(user);
    known = !user.empty() && it != options_.users.end() && it->second == password;
    refused = (!user.empty() && !known) || (user.empty() && options_.require_credentials) ||
              (req.method != "GET" && req.method != "POST") || req.path != options_.path;
  }
  // Logged before answering, so a client that has its answer sees it counted.
  std::string body;
  if (refused) {
    entry.status = req.path != options_.path ? 404 : 401;
    body = R"({"details":"refused"})";
  } else {
    entry.user = user;
    std::string token = issue(entry.scopes, user, entry.service);
    std::lock_guard lock(mu_);
    entry.status = 200;
    body = nlohmann::json{{"token", token},
                          {"access_token", token},
                          {"expires_in", options_.expires_in},
                          {"issued_at", rfc3339(unixNow())}}
               .dump();
  }
  int status = entry.status;
  {
    std::lock_guard lock(mu_);
    log_.push_back(std::move(entry));
  }
  Headers h{{"Content-Type", "application/json"}};
  if (status == 401) h.add("WWW-Authenticate", "Basic realm=\"berth-test-issuer\"");
  ex.reply(status, body, std::move(h));
}

}  // namespace berth::it
