#include "data.h"

#include <openssl/evp.h>

#include <cstring>

namespace berth_bench {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) fail("EVP sha256 init");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }

std::string Sha256::digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string sha256Of(std::string_view s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.digest();
}

void fillRandom(uint64_t seed, uint8_t* dst, size_t len) {
  uint64_t base = seed * 0x9E3779B97F4A7C15ULL;
  uint64_t i = 0;
  while (len >= 8) {
    uint64_t w = mix64(base + i++);
    std::memcpy(dst, &w, 8);
    dst += 8;
    len -= 8;
  }
  if (len) {
    uint64_t w = mix64(base + i);
    std::memcpy(dst, &w, len);
  }
}

std::string randomBytes(uint64_t seed, size_t len) {
  std::string s(len, '\0');
  fillRandom(seed, reinterpret_cast<uint8_t*>(s.data()), len);
  return s;
}

Pattern::Pattern(uint64_t seed, uint64_t size) : size_(size), buf_(kPeriod) { fillRandom(seed, buf_.data(), kPeriod); }

std::string Pattern::digest() const {
  Sha256 h;
  forEachSpan(0, size_, kPeriod, [&h](const uint8_t* p, size_t n) { h.update(p, n); });
  return h.digest();
}

}  // namespace berth_bench
