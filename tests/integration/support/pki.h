// Keys and certificates made by a test with OpenSSL (no openssl CLI): JWT
// signing keys for a token issuer, and a CA with a server certificate for an
// upstream behind TLS. Everything is valid from an hour ago for two days.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace berth::it {

enum class KeyType { Ec256, Rsa2048 };

// A private key (and its public half). Movable, not copyable; thread-safe for
// concurrent signing (each call uses its own context).
class KeyPair {
 public:
  explicit KeyPair(KeyType type = KeyType::Ec256);
  KeyType type() const { return type_; }
  EVP_PKEY* get() const { return key_.get(); }

  std::string privateKeyPem() const;
  std::string publicKeyDer() const;  // SubjectPublicKeyInfo
  // The key ID libtrust (and so distribution's token auth) derives from the
  // public key: SHA-256 of publicKeyDer(), first 240 bits, base32, in 12
  // groups of 4 joined with ':'.
  std::string libtrustKeyId() const;

  // JWS signing: "ES256" (the signature is r||s, 32 bytes each) or "RS256"
  // (PKCS#1 v1.5 over SHA-256).
  std::string jwsAlgorithm() const { return type_ == KeyType::Ec256 ? "ES256" : "RS256"; }
  std::string signJws(std::string_view data) const;

 private:
  KeyType type_;
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key_;
};

// A self-signed certificate (PEM) for key with subject CN=cn; a CA
// (basicConstraints CA:TRUE, keyCertSign) when `ca`.
std::string selfSignedCert(const KeyPair& key, const std::string& cn, bool ca = true);
// A certificate (PEM) for key, issued by ca_key/ca_cert_pem, for a TLS server
// with these subjectAltName entries ("IP:127.0.0.1", "DNS:localhost").
std::string issueServerCert(const KeyPair& key, const std::string& cn, const std::vector<std::string>& sans,
                            const KeyPair& ca_key, const std::string& ca_cert_pem);
// The DER bytes of the first certificate in a PEM text.
std::string certDer(const std::string& pem);

// A fresh CA and a server certificate it issued, written into dir:
// ca.pem (the CA certificate, for ca_file), certs/ca.crt (the same, for
// `skopeo --cert-dir`), server.pem and server-key.pem.
struct TlsFiles {
  std::string ca_file, cert_dir, cert_file, key_file;
};
TlsFiles makeTlsFiles(const std::string& dir,
                      const std::vector<std::string>& sans = {"IP:127.0.0.1", "DNS:localhost"});

// base64url without padding (JWS), and standard base64 with padding (x5c).
std::string base64Url(std::string_view bytes);
std::string base64Std(std::string_view bytes);
// Standard base64 with padding; "" when malformed.
std::string base64Decode(std::string_view text);

}  // namespace berth::it
