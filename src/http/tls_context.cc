#include "http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <stdexcept>

namespace berth::http {
namespace ssl = boost::asio::ssl;

namespace {
std::string sslError() {
  char buf[256] = {0};
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  return buf;
}
}  // namespace

TlsContext::TlsContext(const std::string& cert_file, const std::string& key_file)
    : ctx_(std::make_unique<ssl::context>(ssl::context::tls_server)) {
  SSL_CTX* ctx = ctx_->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Idle connections give their TLS record buffers back (about 34 KiB each).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    throw std::runtime_error("cannot load TLS certificate " + cert_file + ": " + sslError());
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
    throw std::runtime_error("cannot load TLS key " + key_file + ": " + sslError());
}

TlsContext::TlsContext(std::unique_ptr<ssl::context> ctx) : ctx_(std::move(ctx)) {}

std::unique_ptr<TlsContext> TlsContext::client(const std::string& ca_file) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // Pooled idle connections give their TLS record buffers back.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);  // a system without a CA store still trusts ca_file
  if (!ca_file.empty() && SSL_CTX_load_verify_locations(native, ca_file.c_str(), nullptr) != 1)
    throw std::runtime_error("cannot load the CA file " + ca_file + ": " + sslError());
  ctx->set_verify_mode(ssl::verify_peer);
  return std::unique_ptr<TlsContext>(new TlsContext(std::move(ctx)));
}

TlsContext::~TlsContext() = default;

}  // namespace berth::http
