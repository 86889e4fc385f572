#include "server/healthcheck.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <iostream>

namespace berth::server {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// The check is bounded as a whole: a daemon that accepts and never answers
// must not leave Docker's health probe hanging until its own timeout.
void onAlarm(int) {
  static const char msg[] = "berth healthcheck: no answer in time\n";
  ssize_t ignored = ::write(1, msg, sizeof msg - 1);
  (void)ignored;
  ::_exit(1);
}

std::string probeHost(std::string host) {
  if (host == "0.0.0.0" || host.empty()) return "127.0.0.1";
  if (host == "::" || host == "[::]") return "::1";
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

template <class Stream>
http::response<http::string_body> ask(Stream& stream, const std::string& host_header, const std::string& path) {
  http::request<http::empty_body> req{http::verb::get, path, 11};
  req.set(http::field::host, host_header);
  req.set(http::field::user_agent, "berth-healthcheck");
  req.set(http::field::connection, "close");
  http::write(stream, req);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  http::read(stream, buffer, parser);
  return parser.release();
}

}  // namespace

int runHealthcheck(const config::Config& cfg, const HealthcheckOptions& options) {
  std::string host;
  uint16_t port = 0;
  try {
    auto hp = config::parseListen(options.address.empty() ? cfg.server.listen : options.address);
    host = probeHost(hp.host);
    port = hp.port;
  } catch (const std::exception& e) {
    std::cout << "berth healthcheck: " << e.what() << "\n";
    return 1;
  }
  if (port == 0) {
    std::cout << "berth healthcheck: server.listen has port 0 (chosen at start): pass --address HOST:PORT\n";
    return 1;
  }
  ::signal(SIGALRM, onAlarm);
  ::alarm(options.timeout_seconds);
  std::string authority = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string where = (cfg.server.tls.enabled() ? "https://" : "http://") + authority;
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service);
    http::response<http::string_body> res;
    if (cfg.server.tls.enabled()) {
      asio::ssl::context ctx(asio::ssl::context::tls_client);
      ctx.set_verify_mode(asio::ssl::verify_none);
      asio::ssl::stream<tcp::socket> stream(io, ctx);
      asio::connect(stream.next_layer(), endpoints);
      stream.handshake(asio::ssl::stream_base::client);
      res = ask(stream, authority, options.path);
    } else {
      tcp::socket socket(io);
      asio::connect(socket, endpoints);
      res = ask(socket, authority, options.path);
    }
    std::string body = res.body().substr(0, 200);
    for (char& c : body)
      if (c == '\n' || c == '\r') c = ' ';
    std::cout << where << options.path << ": " << res.result_int() << " " << body << "\n";
    return res.result_int() == 200 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cout << "berth healthcheck: " << where << options.path << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace berth::server
