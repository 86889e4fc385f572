// Structured logs: JSON lines (or plain text) on stderr via spdlog.
#pragma once

#include "berth/config.h"
#include "http/server.h"

namespace berth::observe {

void setupLogging(const config::Log& log);
// The access log line for one finished exchange: in JSON mode each field is
// a JSON field of the line ("msg":"access"), in text mode key=value pairs.
// Only the path is logged, never the query string or a header value.
void logAccess(const http::ExchangeSummary& s);
// Records the exchange in the metrics, then logs it if `access_log`.
void observeExchange(const http::ExchangeSummary& s, bool access_log);

}  // namespace berth::observe
