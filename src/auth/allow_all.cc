#include "berth/auth/access_controller.h"
#include "berth/auth/principal.h"

namespace berth::auth {
namespace {
class AllowAll final : public AccessController {
 public:
  Result<Principal> identify(const http::HttpRequest&) override {
    Principal p;
    p.admin = true;  // an open registry: everyone may do everything
    return p;
  }
  bool enforcing() const override { return false; }
  Status authorize(const Principal&, const http::HttpRequest&, const AccessRequest&) override { return {}; }
  bool mayList(const Principal&, const std::string&, const std::string&) override { return true; }
  bool mayThroughMember(const Principal&, const std::string&, const std::string&, Action) override { return true; }
};
}  // namespace

AccessControllerPtr makeAllowAll() { return std::make_shared<AllowAll>(); }

}  // namespace berth::auth
