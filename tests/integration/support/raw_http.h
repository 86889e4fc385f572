// Raw HTTP on a Socket for the front-end tests: parse whatever came back,
// read one response, wait for the server to close, trickle a request in.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "integration/support/daemon.h"
#include "integration/support/http_client.h"

namespace berth::it {

using Clock = std::chrono::steady_clock;

constexpr double kSlack = 5;  // seconds a deadline may be late on a loaded 2-core machine
inline const std::string kGetV2 = "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n";

double since(Clock::time_point t);
// Daemon options with `extra` flow-YAML keys under server:.
DaemonOptions serverWith(std::string extra, std::string log_level = "warn");
// A response from raw bytes, however much of it came; status 0 for none.
Response parseResponse(const std::string& all);
// One response from s, framed by Content-Length (else read to the close);
// status 0 when the connection ended or timed out before a whole header.
Response readOne(Socket& s);
Response ask(Socket& s, const std::string& request);

// What came back on a connection until the server closed it (end of stream
// or reset), or until `limit` seconds after start.
struct Ending {
  bool closed = false;
  std::string bytes;
  double seconds = 0;  // since start, when it closed or the wait gave up
};
Ending awaitClose(Socket& s, Clock::time_point start, double limit, Ending e = {});
// Sends piece(i) every `every` until the server answers or closes, or until
// `limit` seconds after start; tick(i) runs after each piece is sent.
Ending trickle(Socket& s, Clock::time_point start, double limit, std::chrono::milliseconds every,
               const std::function<std::string(int)>& piece, const std::function<void(int)>& tick = {});

}  // namespace berth::it
