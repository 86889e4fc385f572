// Structured logs: JSON lines (or plain text) on stderr via spdlog.
#pragma once

#include "berth/config.h"
#include "http/server.h"

namespace berth::observe {

void setupLogging(const config::Log& log);
// The access log line for one finished exchange.
void logAccess(const http::ExchangeSummary& s);

}  // namespace berth::observe
