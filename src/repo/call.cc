#include "berth/repo/call.h"

#include <thread>

#include "http/suspender.h"

namespace berth::repo {

void pauseCall(const Call& call, std::chrono::milliseconds d) {
  if (call.suspender)
    call.suspender->pause(d);
  else
    std::this_thread::sleep_for(d);
}

}  // namespace berth::repo
