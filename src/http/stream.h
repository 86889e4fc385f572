// One TCP connection, plain or TLS, as an Asio stream that Beast reads and
// writes: the same object serves callbacks on the event loop and coroutines
// on the workers. The outbound client (remote repositories) uses it too.
//
// Internal to src/http (it pulls in Asio and OpenSSL headers). Not
// thread-safe: one operation of each direction at a time, from one strand.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>
#include <utility>

namespace berth::http {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class Stream {
 public:
  using executor_type = tcp::socket::executor_type;

  explicit Stream(tcp::socket socket) : plain_(std::move(socket)) {}

  // Continues over TLS from here on; the handshake is the caller's.
  asio::ssl::stream<tcp::socket>& startTls(asio::ssl::context& ctx) {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(plain_), ctx);
    return *tls_;
  }
  bool secure() const { return tls_ != nullptr; }
  asio::ssl::stream<tcp::socket>* tls() { return tls_.get(); }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }

  executor_type get_executor() { return socket().get_executor(); }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return plain_.async_read_some(buffers, std::forward<Token>(token));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return plain_.async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  tcp::socket plain_;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
};

}  // namespace berth::http
