// The outbound client's insides (client.h): the reactor thread that owns
// every socket, the pool whose coroutines run spawn()ed tasks and the calls
// of plain threads, the idle connections, and the response being read.
//
// Internal to client.cc and client_response.cc.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/context/fiber.hpp>  // forced_unwind, whichever fiber implementation is built
#include <atomic>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "http/client.h"
#include "http/client_conn.h"
#include "http/coroutine_stacks.h"
#include "http/tls_context.h"

namespace berth::http {

using ResponseParser = outbound::bhttp::response_parser<outbound::bhttp::buffer_body>;

class ResponseImpl;

// HttpClient::Impl is this (client.h keeps its Impl private).
struct ClientCore {
  explicit ClientCore(ClientOptions options);
  ~ClientCore();

  Result<ClientResponsePtr> send(const ClientRequest& req, Suspender& s, Suspender* owner, SendFailure& failure);
  // One request on one route: `deadline` bounds the whole response when set
  // (ClientRequest::whole_response_timeout); `connect_failed` tells a failure
  // to connect from one on a connection that was made.
  Result<std::unique_ptr<ResponseImpl>> exchange(const outbound::Route& route, const std::string& request, bool head,
                                                 Suspender& s, Suspender* owner,
                                                 std::optional<outbound::Clock::time_point> deadline,
                                                 bool& connect_failed);
  Result<outbound::Route> routeFor(const Url& url) const;
  outbound::ConnectEnv env() { return {reactor, live, *tls, options.timeout}; }

  // Starts `f` in a coroutine on the pool (its own strand); false when no
  // stack can be mapped.
  bool startCoroutine(std::function<void(Suspender&)> f);
  // Runs `f` in a coroutine on the pool and blocks the calling thread (not
  // one of the pool's) until it returns: the path of callers without a
  // Suspender. What `f` throws is rethrown here.
  template <class R>
  R onPool(const std::function<R(Suspender&)>& f, R out_of_stacks) {
    auto promise = std::make_shared<std::promise<R>>();
    auto future = promise->get_future();
    bool started = startCoroutine([&f, promise](Suspender& s) {
      try {
        promise->set_value(f(s));
      } catch (const boost::context::detail::forced_unwind&) {
        throw;  // a coroutine destroyed while suspended unwinds through here
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
    if (!started) return out_of_stacks;
    return future.get();
  }
  void scheduleSweep();

  ClientOptions options;
  std::unique_ptr<TlsContext> tls;
  asio::io_context reactor{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{reactor.get_executor()};
  asio::steady_timer sweeper{reactor};
  asio::thread_pool pool;
  CoroutineStacks stacks;
  outbound::LiveConnections live;
  outbound::ConnectionPool idle;
  std::thread reactor_thread;
  std::atomic<bool> stopping{false};
};

class ResponseImpl final : public ClientResponse {
 public:
  ResponseImpl(ClientCore& client, outbound::Route route, outbound::ConnectionPtr conn,
               std::unique_ptr<ResponseParser> parser, Suspender* owner,
               std::optional<outbound::Clock::time_point> deadline);

  Result<std::size_t> read(char* data, std::size_t size) override;
  Result<std::size_t> readWith(Suspender& s, char* data, std::size_t size);
  // Reads and discards up to `limit` bytes of the body, so that a redirect's
  // connection can serve the next hop; a longer body closes it instead.
  void drain(Suspender& s, std::size_t limit);

 private:
  // A length-delimited body once nothing is left in the connection's
  // buffer: straight from the socket into the caller's memory.
  Result<std::size_t> readDirect(Suspender& s, char* data, std::size_t size);
  std::optional<outbound::Clock::time_point> readDeadline() const;
  void finish();  // the body ended: the connection goes back to the pool
  tl::unexpected<Error> broken(const std::string& what);

  ClientCore& client_;
  outbound::Route route_;
  outbound::ConnectionPtr conn_;  // null once the body ended or broke
  std::unique_ptr<ResponseParser> parser_;
  Suspender* owner_;  // null: the caller is a plain thread
  std::optional<outbound::Clock::time_point> deadline_;  // for the whole body, when the request set one
  std::optional<Error> error_;
  std::optional<uint64_t> direct_left_;  // set once readDirect() took over from the parser
};

}  // namespace berth::http
