#include "integration/support/pki.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <stdexcept>

#include "integration/support/daemon.h"

namespace berth::it {
namespace {

[[noreturn]] void fail(const std::string& what) {
  char buf[256] = "";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
  throw std::runtime_error(what + " failed: " + buf);
}

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

X509Ptr parsePem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("reading a PEM certificate");
  return cert;
}

std::string toPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bioText(bio.get());
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for key with subject CN=cn, signed by signer (issuer: itself when null).
X509Ptr makeCert(const KeyPair& key, const std::string& cn, const KeyPair& signer, X509* issuer,
                 const std::vector<std::pair<int, std::string>>& extensions) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 2 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* issuer_cert = issuer ? issuer : cert.get();
  for (const auto& [nid, value] : extensions) addExtension(cert.get(), issuer_cert, nid, value);
  if (X509_sign(cert.get(), signer.get(), EVP_sha256()) == 0) fail("X509_sign");
  return cert;
}

}  // namespace

std::string base64Url(std::string_view bytes) {
  std::string s = base64Std(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return s;
}

std::string base64Std(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return {};
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return {};
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);  // EVP_DecodeBlock counts padding as zero bytes
  return out;
}

// ---- KeyPair ----

KeyPair::KeyPair(KeyType type)
    : type_(type),
      key_(type == KeyType::Ec256 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                  : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}),
           EVP_PKEY_free) {
  if (!key_) fail("key generation");
}

std::string KeyPair::privateKeyPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return bioText(bio.get());
}

std::string KeyPair::publicKeyDer() const {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key_.get(), &der);
  if (n <= 0) fail("i2d_PUBKEY");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

std::string KeyPair::libtrustKeyId() const {
  static const char* kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string der = publicKeyDer();
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned hash_len = 0;
  EVP_Digest(der.data(), der.size(), hash, &hash_len, EVP_sha256(), nullptr);
  std::string raw(reinterpret_cast<char*>(hash), 30);
  std::string b32;  // 30 bytes = 240 bits = 48 characters, no padding
  for (std::size_t bit = 0; bit < raw.size() * 8; bit += 5) {
    unsigned v = 0;
    for (std::size_t b = bit; b < bit + 5; ++b) v = (v << 1) | ((static_cast<unsigned char>(raw[b / 8]) >> (7 - b % 8)) & 1);
    b32 += kBase32[v];
  }
  std::string id;
  for (std::size_t i = 0; i < b32.size(); i += 4) id += (i ? ":" : "") + b32.substr(i, 4);
  return id;
}

std::string KeyPair::signJws(std::string_view data) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    fail("EVP_DigestSign");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    fail("EVP_DigestSign");
  sig.resize(len);
  if (type_ != KeyType::Ec256) return sig;
  // JWS wants the two integers side by side, not OpenSSL's DER sequence.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* ec = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  if (!ec) fail("d2i_ECDSA_SIG");
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(ec), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(ec), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(ec);
  return raw;
}

// ---- certificates ----

std::string selfSignedCert(const KeyPair& key, const std::string& cn, bool ca) {
  std::vector<std::pair<int, std::string>> ext{{NID_subject_key_identifier, "hash"}};
  if (ca) {
    ext.emplace_back(NID_basic_constraints, "critical,CA:TRUE");
    ext.emplace_back(NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  }
  return toPem(makeCert(key, cn, key, nullptr, ext).get());
}

std::string issueServerCert(const KeyPair& key, const std::string& cn, const std::vector<std::string>& sans,
                            const KeyPair& ca_key, const std::string& ca_cert_pem) {
  std::string san_list;
  for (const auto& s : sans) san_list += (san_list.empty() ? "" : ",") + s;
  X509Ptr ca = parsePem(ca_cert_pem);
  return toPem(makeCert(key, cn, ca_key, ca.get(),
                        {{NID_basic_constraints, "critical,CA:FALSE"},
                         {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                         {NID_ext_key_usage, "serverAuth"},
                         {NID_subject_alt_name, san_list},
                         {NID_authority_key_identifier, "keyid"}})
                   .get());
}

std::string certDer(const std::string& pem) {
  X509Ptr cert = parsePem(pem);
  unsigned char* der = nullptr;
  int n = i2d_X509(cert.get(), &der);
  if (n <= 0) fail("i2d_X509");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

TlsFiles makeTlsFiles(const std::string& dir, const std::vector<std::string>& sans) {
  KeyPair ca_key(KeyType::Ec256), server_key(KeyType::Ec256);
  std::string ca_pem = selfSignedCert(ca_key, "berth test CA");
  TlsFiles f{dir + "/ca.pem", dir + "/certs", dir + "/server.pem", dir + "/server-key.pem"};
  std::filesystem::create_directories(f.cert_dir);
  writeFile(f.ca_file, ca_pem);
  writeFile(f.cert_dir + "/ca.crt", ca_pem);
  writeFile(f.cert_file, issueServerCert(server_key, "localhost", sans, ca_key, ca_pem));
  writeFile(f.key_file, server_key.privateKeyPem());
  return f;
}

}  // namespace berth::it
