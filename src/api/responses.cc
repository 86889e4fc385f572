#include <nlohmann/json.hpp>

#include "api/handlers.h"
#include "core/json_input.h"

namespace berth::api {

http::HttpResponse jsonResponse(int status, std::string body) {
  http::HttpResponse res;
  res.status = status;
  res.set("Content-Type", "application/json");
  res.body = std::move(body);
  return res;
}

http::HttpResponse errorResponse(const Error& e) {
  // Server faults carry paths, errno texts or SQL in their message: those go
  // to the log (api.cc), the client gets the code's default message.
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
  return jsonResponse(errorHttpStatus(e.code), body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

tl::unexpected<Error> unsupported(const Context& c) {
  return fail(ErrorCode::Unsupported, "the operation is unsupported", c.req().method + " " + c.req().path);
}

Result<PageRequest> pageRequest(const http::HttpRequest& req, std::size_t default_n) {
  PageRequest p{default_n, req.queryValue("last")};
  if (req.hasQuery("n")) {
    std::string n = req.queryValue("n");
    if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos)
      return fail(ErrorCode::PaginationNumberInvalid, "invalid number of results requested", n.substr(0, 20));
    p.n = std::stoul(n);
  }
  return p;
}

std::string nextLink(const std::string& url, std::size_t n, const std::string& last) {
  std::string encoded;
  for (char c : last) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')
      encoded += c;
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      encoded += buf;
    }
  }
  return "<" + url + "?last=" + encoded + "&n=" + std::to_string(n) + ">; rel=\"next\"";
}

}  // namespace berth::api
