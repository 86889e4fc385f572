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

http::HttpResponse errorResponse(const Error& e) { return jsonResponse(errorHttpStatus(e.code), errorBody(e)); }

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
