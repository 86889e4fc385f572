// The crowd's connections as data: their kinds, states and outcomes, the little HTTP
// parsing they need, and the counts a snapshot reports. Internal to crowd.cc.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common.h"

namespace berth_bench::crowd {

enum class Kind : uint8_t { kIdle, kSlowHeader, kSlowBody };
constexpr int kKinds = 3;
inline constexpr const char* kKindNames[kKinds] = {"idle", "slow_headers", "slow_bodies"};

enum class State : uint8_t { kNotOpened, kConnecting, kAwaitAnswer, kReady, kTrickling, kEnded };

// Why a connection ended.
enum class End : uint8_t {
  kNone,
  kClientError,        // this side could not open it (descriptors, ports)
  kConnectFailed,      // refused or reset while connecting
  kRefusedStatus,      // the server answered the first request, or the bare connection, with an error
  kClosedBeforeReady,  // closed by the server before it was ready
  kCut,                // ended by the server once ready (idle) or trickling (slow)
};

// One connection; kept small, there may be 10,000 of them.
struct Peer {
  int fd = -1;
  Kind kind = Kind::kIdle;
  State state = State::kNotOpened;
  End end = End::kNone;
  bool want_out = false;  // EPOLLOUT is in the interest set
  uint16_t status = 0;    // the answer that ended it, if any
  uint32_t ticks = 0;
  float ended_at = 0;  // seconds since open()
  double next_tick = 0;
  uint64_t skip = 0;  // body bytes of an answer still to come
  size_t out_off = 0;
  std::string out;   // bytes not yet sent
  std::string in;    // an answer's head while it arrives
  std::string path;  // the upload session (slow bodies)
};

struct Head {
  int status = 0;
  uint64_t content_length = 0;
  std::string location;
};

// A response head through its blank line; status 0 when it is not one.
Head parseHead(std::string_view h);

inline bool inSetup(State s) { return s == State::kConnecting || s == State::kAwaitAnswer; }

// Per kind and in total: requested, open, refused (how), no answer yet, cut (how, first and last
// time). `trickling`: the slow ones have been told to start.
json countPeers(const std::vector<Peer>& peers, bool trickling);

}  // namespace berth_bench::crowd
