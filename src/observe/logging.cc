#include "observe/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>

#include "observe/metrics.h"

namespace berth::observe {
namespace {

// A payload starting with this byte is a list of JSON fields ("k":v,...),
// written as fields of the line in JSON mode. Only logAccess makes one.
constexpr char kFieldsMark = '\x1e';
std::atomic<bool> json_mode{false};

std::string quoted(std::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// %* : "msg":<the message as a JSON string>, or the access line's fields.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    std::string out;
    if (!text.empty() && text.front() == kFieldsMark) {
      out = R"("msg":"access",)";
      out.append(text.substr(1));
    } else {
      out = R"("msg":)" + quoted(text);
    }
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

// A text value: as is when it is one plain word, else JSON-quoted (so that
// a path with spaces or quotes cannot forge another field).
std::string textValue(std::string_view v) {
  if (v.empty()) return "-";
  for (char c : v)
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=') return quoted(v);
  return std::string(v);
}

}  // namespace

void setupLogging(const config::Log& log) {
  auto logger = spdlog::get("berth");
  if (!logger) logger = spdlog::stderr_logger_mt("berth");
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  json_mode = log.format == "json";
  if (json_mode)
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%*})");
  else
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v");
  logger->set_formatter(std::move(formatter));
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log.level));
  spdlog::flush_on(spdlog::level::info);
}

void logAccess(const http::ExchangeSummary& s) {
  const auto& r = *s.request;
  static const http::ExchangeNotes kNone;
  const auto& n = s.notes ? *s.notes : kNone;
  // client is the real client where a trusted proxy reported one
  // (server.trusted_proxies); remote the peer's address and port.
  const std::string& client = r.client.empty() ? r.remote : r.client;
  double ms = s.seconds * 1000;
  if (json_mode) {
    nlohmann::ordered_json j{{"request_id", r.request_id},
                             {"method", r.method},
                             {"path", r.path},
                             {"status", s.status},
                             {"bytes_in", s.bytes_in},
                             {"bytes_out", s.bytes_out},
                             {"duration_ms", std::round(ms * 10) / 10},
                             {"user", n.user},
                             {"repository", n.repository},
                             {"client", client},
                             {"remote", r.remote}};
    std::string fields = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // The object's braces off: its fields join the line's.
    fields.front() = kFieldsMark;
    fields.pop_back();
    spdlog::info("{}", fields);
    return;
  }
  // The order of the first fields is what scripts and tests grep for.
  spdlog::info("access remote={} client={} method={} path={} status={} in={} out={} ms={:.1f} id={} user={} repo={}",
               r.remote, client, textValue(r.method), textValue(r.path), s.status, s.bytes_in, s.bytes_out, ms,
               textValue(r.request_id), textValue(n.user), textValue(n.repository));
}

void observeExchange(const http::ExchangeSummary& s, bool access_log) {
  const auto& r = *s.request;
  auto route = s.notes ? static_cast<RouteLabel>(s.notes->route) : RouteLabel::Unmatched;
  if (route == RouteLabel::Unmatched) route = systemRouteOf(r.path);
  metrics().observeRequest(familyOf(r.path, route), route, r.method, s.status, s.bytes_in, s.bytes_out, s.seconds);
  if (access_log) logAccess(s);
}

}  // namespace berth::observe
