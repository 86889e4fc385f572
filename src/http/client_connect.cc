// Connecting for the outbound client: name resolution, TCP, a proxy's
// CONNECT tunnel and the TLS handshake, under one deadline.
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <vector>

#include "http/client_conn.h"
#include "http/tls_context.h"

namespace berth::http::outbound {
namespace {

using tl::unexpected;

tl::unexpected<Error> unavailable(const Route& r, const std::string& what) {
  return unexpected(Error{ErrorCode::Unavailable, r.describe() + ": " + what, {}});
}

Result<std::vector<tcp::endpoint>> endpoints(const Url& hop, const Route& r, Suspender& s, const ConnectEnv& env,
                                             Clock::time_point deadline) {
  error_code ec;
  auto address = asio::ip::make_address(hop.host, ec);
  if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(address, hop.port)};
  tcp::resolver resolver(env.reactor);
  bool fired = false;
  tcp::resolver::results_type results;
  {
    Alarm alarm(s, deadline, [&] {
      fired = true;
      resolver.cancel();
    });
    results = resolver.async_resolve(hop.host, std::to_string(hop.port), s.yield()[ec]);
  }
  if (fired) return unavailable(r, "timed out resolving " + hop.host);
  if (ec) return unavailable(r, "cannot resolve " + hop.host + ": " + describe(ec));
  std::vector<tcp::endpoint> out;
  for (const auto& entry : results) out.push_back(entry.endpoint());
  if (out.empty()) return unavailable(r, "cannot resolve " + hop.host);
  return out;
}

// TCP to the first endpoint that answers.
Status connectTcp(Connection& c, const std::vector<tcp::endpoint>& eps, const Route& r, Suspender& s,
                  const ConnectEnv& env, Clock::time_point deadline) {
  auto& sock = c.stream.socket();
  error_code ec;
  for (const auto& ep : eps) {
    sock.close(ec);
    sock.open(ep.protocol(), ec);
    if (ec) continue;
    {
      Alarm alarm(s, deadline, [&c] { expire(c); });
      sock.async_connect(ep, s.yield()[ec]);
    }
    if (c.expired) return unavailable(r, "timed out connecting");
    if (!ec) break;
  }
  if (ec) return unavailable(r, describe(ec));
  sock.set_option(tcp::no_delay(true), ec);
  env.live.add(&c, sock.native_handle());
  return {};
}

Status openTunnel(Connection& c, const Route& r, Suspender& s, Clock::time_point deadline) {
  std::string authority = r.target.hostPort();
  std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (auto auth = r.proxyAuthorization(); !auth.empty()) req += "Proxy-Authorization: " + auth + "\r\n";
  req += "\r\n";
  error_code ec;
  writeAll(c, s, req, deadline, ec);
  if (ec) return unavailable(r, "proxy: " + describe(ec));
  // Only the header: a 2xx answer to CONNECT has no body, whatever it says.
  bhttp::response_parser<bhttp::empty_body> parser;
  parser.header_limit(16 * 1024);
  bool received = false;
  ec = readHeader(c, parser, s, deadline, received);
  if (ec) return unavailable(r, "proxy: " + (ec == bhttp::error::partial_message ? "malformed answer" : describe(ec)));
  unsigned status = parser.get().result_int();
  if (status / 100 != 2) return unavailable(r, "the proxy refused the tunnel (" + std::to_string(status) + ")");
  if (c.buffer.size() > 0) return unavailable(r, "the proxy sent data before the TLS handshake");
  return {};
}

Status handshake(Connection& c, const Route& r, Suspender& s, const ConnectEnv& env, Clock::time_point deadline) {
  auto& tls = c.stream.startTls(env.tls.native());
  const std::string& host = r.target.host;
  error_code ec;
  asio::ip::make_address(host, ec);
  bool is_address = !ec;
  // SNI takes names only (RFC 6066 section 3).
  if (!is_address) SSL_set_tlsext_host_name(tls.native_handle(), host.c_str());
  tls.set_verify_mode(asio::ssl::verify_peer);
  // Asio's check fails the chain without saying why; the error it sets is
  // what the message shows ("Hostname mismatch").
  tls.set_verify_callback([check = asio::ssl::host_name_verification(host), is_address](
                              bool preverified, asio::ssl::verify_context& ctx) {
    bool ok = check(preverified, ctx);
    if (preverified && !ok)
      X509_STORE_CTX_set_error(ctx.native_handle(),
                               is_address ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH);
    return ok;
  });
  {
    Alarm alarm(s, deadline, [&c] { expire(c); });
    tls.async_handshake(asio::ssl::stream_base::client, s.yield()[ec]);
  }
  if (c.expired) return unavailable(r, "timed out in the TLS handshake");
  if (!ec) return {};
  std::string what = "TLS handshake failed: " + describe(ec);
  long verify = SSL_get_verify_result(tls.native_handle());
  if (verify != X509_V_OK) what += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
  return unavailable(r, what);
}

}  // namespace

Result<ConnectionPtr> connect(const Route& r, Suspender& s, const ConnectEnv& env) {
  auto deadline = Clock::now() + env.timeout;
  const Url& hop = r.proxy ? *r.proxy : r.target;
  auto eps = endpoints(hop, r, s, env, deadline);
  if (!eps) return unexpected(eps.error());
  auto c = std::make_unique<Connection>(env.reactor, env.live);
  c->key = r.key();
  if (auto ok = connectTcp(*c, *eps, r, s, env, deadline); !ok) return unexpected(ok.error());
  if (r.tunnel())
    if (auto ok = openTunnel(*c, r, s, deadline); !ok) return unexpected(ok.error());
  if (r.target.tls())
    if (auto ok = handshake(*c, r, s, env, deadline); !ok) return unexpected(ok.error());
  return c;
}

}  // namespace berth::http::outbound
