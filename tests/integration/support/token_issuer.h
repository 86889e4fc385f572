// A Docker token endpoint (the `realm` of a Bearer challenge) run by the test:
// GET <realm>?service=&scope=... (and the OAuth2 POST form with
// grant_type=password), Basic credentials optional or required, answering
// {"token","access_token","expires_in","issued_at"} with a JWT signed by a key
// the test made. The JWT is what distribution 2.8.2's `auth: token` accepts
// (its rootcertbundle is certPem()): ES256 or RS256, the key named by an
// `x5c` header (the certificate) or a `kid` (libtrust key ID), `aud` a string.
//
// Anonymous requests get `pull` only; users with credentials get every action
// they ask for. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "integration/support/http_server.h"
#include "integration/support/pki.h"

namespace berth::it {

struct TokenIssuerOptions {
  std::string service = "test-upstream";  // the default `aud` (the request's service wins)
  std::string issuer = "berth-test-issuer";
  KeyType key_type = KeyType::Ec256;
  bool key_id_header = false;  // false: `x5c` (the certificate); true: `kid` (libtrust key ID)
  std::map<std::string, std::string> users = {};  // user -> password, for Basic
  bool require_credentials = false;          // refuse anonymous requests with 401
  // What the client is told (expires_in) and what the token says (exp - now);
  // they differ on purpose in expiry tests. distribution accepts a token until
  // 60 s after its exp, so a lifetime of -55 makes a token it refuses 5 s later.
  int expires_in = 300;
  int lifetime = 300;
  std::string address = "127.0.0.1";
  std::string path = "/token";
};

// One request the issuer served.
struct TokenRequest {
  std::string method, user, service;  // user "" = anonymous
  std::vector<std::string> scopes;
  int status = 0;
};

class TokenIssuer {
 public:
  explicit TokenIssuer(TokenIssuerOptions options = {});
  ~TokenIssuer();

  std::string realm() const { return server_->url() + options_.path; }
  const std::string& service() const { return options_.service; }
  const std::string& issuer() const { return options_.issuer; }
  // The self-signed certificate of the signing key (distribution's rootcertbundle).
  const std::string& certPem() const { return cert_pem_; }
  const KeyPair& key() const { return key_; }

  // Mints a token for these scopes ("repository:app:pull,push") directly.
  std::string issue(const std::vector<std::string>& scopes, const std::string& subject = {},
                    const std::string& audience = {});
  // Whether token was issued here and its exp has not passed (no leeway):
  // what a ScriptedUpstream uses to check Bearer tokens.
  bool accepts(const std::string& token) const;
  // Everything issued so far stops being accepted (a rotated key, a revocation).
  void revokeAll();

  void setExpiresIn(int seconds);
  void setLifetime(int seconds);

  int requests() const;  // token requests served, whatever their outcome
  std::vector<TokenRequest> log() const;

 private:
  void handle(ServerExchange& ex);

  TokenIssuerOptions options_;
  KeyPair key_;
  std::string cert_pem_, cert_der_;
  mutable std::mutex mu_;
  std::map<std::string, long long> issued_;  // token -> exp (unix seconds)
  std::vector<TokenRequest> log_;
  std::unique_ptr<HttpServer> server_;  // last: stopped first
};

}  // namespace berth::it
