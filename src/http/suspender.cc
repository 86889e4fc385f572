#include "http/suspender.h"

#include <boost/asio/steady_timer.hpp>

namespace berth::http {

void Suspender::pause(std::chrono::milliseconds d) {
  asio::steady_timer timer(yield_.get_executor());
  timer.expires_after(d);
  boost::system::error_code ignored;  // cancelled only when the executor shuts down
  timer.async_wait(yield_[ignored]);
}

}  // namespace berth::http
