#include "berth/auth/access_controller.h"

namespace berth::auth {
namespace {
class AllowAll final : public AccessController {
 public:
  Status authorize(const http::HttpRequest&, const AccessRequest&) override { return {}; }
  bool mayList(const http::HttpRequest&, const std::string&, const std::string&) override { return true; }
};
}  // namespace

AccessControllerPtr makeAllowAll() { return std::make_shared<AllowAll>(); }

}  // namespace berth::auth
