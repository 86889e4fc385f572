#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/handlers.h"

namespace berth::api {
namespace {

nlohmann::json firstError(const http::HttpResponse& r) { return nlohmann::json::parse(r.body)["errors"][0]; }

TEST(ErrorResponse, ServerFaultsKeepPathsAndSqlOutOfTheBody) {
  auto r = errorResponse(errnoError(EMFILE, "create upload", "/srv/berth/uploads/0a1b"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.find("/srv/berth"), std::string::npos) << r.body;
  EXPECT_EQ(firstError(r)["code"], "UNAVAILABLE");
  EXPECT_EQ(firstError(r)["message"], "service unavailable");
  r = errorResponse(Error{ErrorCode::Unknown, "metadata store: no such table: uploads", "SELECT uuid FROM uploads"});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("uploads"), std::string::npos) << r.body;
  EXPECT_FALSE(firstError(r).contains("detail"));
}

TEST(ErrorResponse, ServiceUnavailableThatIsNotInternalKeepsItsMessage) {
  // e.g. an upstream registry that is down: the message names it, usefully.
  auto r = errorResponse(Error{ErrorCode::Unavailable, "upstream registry-1.docker.io is not answering", ""});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(firstError(r)["message"], "upstream registry-1.docker.io is not answering");
}

TEST(ErrorResponse, ClientErrorsKeepTheirMessageAndDetail) {
  auto r = errorResponse(Error{ErrorCode::TooManyRequests, "too many unfinished uploads for user alice (limit 2)", "60"});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(firstError(r)["message"], "too many unfinished uploads for user alice (limit 2)");
  EXPECT_EQ(firstError(r)["detail"], "60");
  r = errorResponse(Error{ErrorCode::Denied, "", R"([{"Type":"repository"}])"});
  EXPECT_EQ(firstError(r)["detail"][0]["Type"], "repository");
}

}  // namespace
}  // namespace berth::api
