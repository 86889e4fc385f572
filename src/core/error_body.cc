// The one place that writes the spec's JSON error body: API handlers and the
// HTTP front end's own refusals (limits, timeouts, malformed requests) both
// come here.
#include <nlohmann/json.hpp>

#include "berth/core/error.h"
#include "core/json_input.h"

namespace berth {

std::string errorBody(const Error& e) {
  bool server_fault = e.internal || e.code == ErrorCode::Unknown;
  nlohmann::json err{{"code", errorCodeName(e.code)},
                     {"message", e.message.empty() || server_fault ? std::string(errorDefaultMessage(e.code)) : e.message}};
  if (!e.detail.empty() && !server_fault) {
    // A detail that is itself JSON (an access list, say) is embedded as such.
    // The depth limit matters: a detail may quote a client's input.
    auto parsed = json_input::parse(e.detail, ErrorCode::Unknown);
    err["detail"] = (parsed && (parsed->is_array() || parsed->is_object())) ? *parsed : nlohmann::json(e.detail);
  }
  nlohmann::json body{{"errors", nlohmann::json::array({err})}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace berth
