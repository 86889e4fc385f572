// The one place every request's identity and permission is decided. The
// router calls it with what the request wants to do on which repository and
// image; handlers never check permissions themselves.
//
// Thread safety: authorize() may be called concurrently.
#pragma once

#include <memory>
#include <string>

#include "berth/core/error.h"

namespace berth::http {
struct HttpRequest;
}

namespace berth::auth {

enum class Action { Read, Annotate, Deploy, Delete, Manage };
struct Principal;

struct AccessRequest {
  std::string repo_key;  // empty for registry-wide requests (GET /v2/, _catalog)
  std::string image;     // empty when not about one image
  Action action = Action::Read;
  // A catalog listing (/v2/_catalog, or one repository's): a Bearer token must
  // carry registry:catalog:*, as a token for one image says nothing of others.
  bool catalog = false;
};

class AccessController {
 public:
  virtual ~AccessController() = default;
  // Checks the request's credentials (Basic or Bearer); anonymous when none.
  // UNAUTHORIZED for bad credentials, TOOMANYREQUESTS while throttled.
  virtual Result<Principal> identify(const http::HttpRequest& request) = 0;
  // Whether credentials are checked at all (false: an open registry).
  virtual bool enforcing() const = 0;
  // Whether `who` (from identify()) may do `access`: UNAUTHORIZED (the API
  // adds the challenge) or DENIED, else ok. `request` is for the log.
  virtual Status authorize(const Principal& who, const http::HttpRequest& request, const AccessRequest& access) = 0;
  // Whether `who` (from identify()) may list `image` of `repo_key`: catalog
  // filtering, which identifies the caller once for the whole page.
  virtual bool mayList(const Principal& who, const std::string& repo_key, const std::string& image) = 0;
  // Whether `who` may do `action` on `image` of a member repository reached
  // through a virtual repository it was authorized for. The permission model
  // decides; an access token narrowed to repositories names the addressed
  // one, not its members, so only its action narrowing applies here.
  virtual bool mayThroughMember(const Principal& who, const std::string& repo_key, const std::string& image,
                                Action action) = 0;
};
using AccessControllerPtr = std::shared_ptr<AccessController>;

// Everyone may do everything: the behaviour until security is configured.
AccessControllerPtr makeAllowAll();

}  // namespace berth::auth
