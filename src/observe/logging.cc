#include "observe/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace berth::observe {
namespace {

// %* : the message as a JSON string (quoted and escaped), for JSON lines.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string text(msg.payload.data(), msg.payload.size());
    std::string quoted = nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

}  // namespace

void setupLogging(const config::Log& log) {
  auto logger = spdlog::get("berth");
  if (!logger) logger = spdlog::stderr_logger_mt("berth");
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (log.format == "json")
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":%*})");
  else
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v");
  logger->set_formatter(std::move(formatter));
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log.level));
  spdlog::flush_on(spdlog::level::info);
}

void logAccess(const http::ExchangeSummary& s) {
  // client= is the real client where a trusted proxy reported one (server.trusted_proxies).
  spdlog::info("access remote={} client={} method={} path={} status={} in={} out={} ms={:.1f}", s.request->remote,
               s.request->client, s.request->method, s.request->path, s.status, s.bytes_in, s.bytes_out,
               s.seconds * 1000);
}

}  // namespace berth::observe
