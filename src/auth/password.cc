#include "auth/password.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cctype>
#include <memory>
#include <stdexcept>

namespace berth::auth {

std::string passwordProblem(const std::string& password) {
  if (password.size() > 72) return "password is longer than 72 bytes (bcrypt's limit)";
  if (password.find('\0') != std::string::npos) return "password contains a NUL character";
  return {};
}

std::string bcryptHashProblem(const std::string& hash) {
  static const char kAlphabet[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const char* bad = "password_hash must be a bcrypt hash ($2y$NN$ and 53 characters, cost 04 to 16)";
  if (hash.size() != 60 || !hash.starts_with("$2") || hash[3] != '$' || hash[6] != '$') return bad;
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return bad;
  if (!std::isdigit(static_cast<unsigned char>(hash[4])) || !std::isdigit(static_cast<unsigned char>(hash[5])))
    return bad;
  int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 16) return bad;
  if (hash.find_first_not_of(kAlphabet, 7) != std::string::npos) return bad;
  return {};
}

std::string hashPassword(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$2b$", kBcryptCost, nullptr, 0, salt, sizeof salt))
    throw std::runtime_error("crypt_gensalt failed");
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_r(password.c_str(), salt, data.get());
  if (!out || out[0] == '*') throw std::runtime_error("bcrypt hashing failed");
  return out;
}

bool verifyPassword(const std::string& password, const std::string& hash) {
  if (hash.size() < 7 || hash[0] != '$' || hash[1] != '2') return false;
  // htpasswd writes $2y$; libxcrypt reads it as $2b$ (the same algorithm).
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_r(password.c_str(), hash.c_str(), data.get());
  if (!out || out[0] == '*') return false;
  std::string computed = out;
  return computed.size() == hash.size() && CRYPTO_memcmp(computed.data(), hash.data(), hash.size()) == 0;
}

std::optional<std::size_t> sampleIndex(unsigned char byte, std::size_t size) {
  if (size == 0 || size > 256) return std::nullopt;
  std::size_t limit = 256 - 256 % size;  // the largest multiple of size that fits in a byte
  if (byte >= limit) return std::nullopt;
  return byte % size;
}

std::string randomString(std::size_t length, std::string_view alphabet) {
  if (alphabet.empty() || alphabet.size() > 256) throw std::invalid_argument("alphabet must have 1..256 characters");
  std::string out;
  unsigned char buf[64];
  while (out.size() < length) {
    if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("the OpenSSL random generator failed");
    for (unsigned char b : buf)
      if (auto i = sampleIndex(b, alphabet.size()); i && out.size() < length) out += alphabet[*i];
  }
  return out;
}

std::string randomPassword(std::size_t length) { return randomString(length, kPasswordAlphabet); }

}  // namespace berth::auth
