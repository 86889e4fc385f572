// The registry API: routes a request, checks the repository and access, runs
// the handler and writes any error in the spec's JSON form. The one guard
// that turns a stray exception into a logged 500.
#pragma once

#include "berth/auth/access_controller.h"
#include "berth/repo/repository.h"
#include "http/exchange.h"

namespace berth::api {

class Api {
 public:
  Api(std::shared_ptr<repo::RepositoryRegistry> registry, auth::AccessControllerPtr access);
  void handle(http::Exchange& ex);

 private:
  Status dispatch(http::Exchange& ex);

  std::shared_ptr<repo::RepositoryRegistry> registry_;
  auth::AccessControllerPtr access_;
};

}  // namespace berth::api
