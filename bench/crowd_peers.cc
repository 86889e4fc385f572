#include "crowd_peers.h"

#include <algorithm>
#include <cstdlib>
#include <map>

namespace berth_bench::crowd {

Head parseHead(std::string_view h) {
  Head out;
  if (h.size() < 12 || !h.starts_with("HTTP/1.")) return out;
  out.status = std::atoi(std::string(h.substr(9, 3)).c_str());
  for (size_t pos = h.find("\r\n"); pos != std::string_view::npos && pos + 2 < h.size();) {
    size_t eol = h.find("\r\n", pos + 2);
    if (eol == std::string_view::npos) break;
    std::string_view line = h.substr(pos + 2, eol - pos - 2);
    pos = eol;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = toLower(std::string(line.substr(0, colon)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name == "content-length") out.content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
    if (name == "location") out.location = std::string(value);
  }
  return out;
}

json countPeers(const std::vector<Peer>& peers, bool trickling) {
  json j = json::object();
  int total_open = 0, total_refused = 0, total_cut = 0, total_none = 0, total_client = 0;
  for (int k = 0; k < kKinds; ++k) {
    int req = 0, open = 0, not_trickling = 0, refused_connect = 0, refused_closed = 0, none = 0, cut = 0, client = 0;
    std::map<std::string, int> refused_status, cut_status;
    double first_cut = -1, last_cut = -1;
    for (auto& p : peers) {
      if (static_cast<int>(p.kind) != k) continue;
      ++req;
      switch (p.state) {
        case State::kNotOpened:
        case State::kConnecting:
        case State::kAwaitAnswer:
          ++none;
          break;
        case State::kReady:
          ++open;
          if (p.kind != Kind::kIdle && trickling) ++not_trickling;
          break;
        case State::kTrickling:
          ++open;
          break;
        case State::kEnded:
          switch (p.end) {
            case End::kClientError:
              ++client;
              break;
            case End::kConnectFailed:
              ++refused_connect;
              break;
            case End::kRefusedStatus:
              ++refused_status[std::to_string(p.status)];
              break;
            case End::kClosedBeforeReady:
              ++refused_closed;
              break;
            case End::kCut:
              ++cut;
              ++cut_status[p.status ? std::to_string(p.status) : "closed"];
              if (first_cut < 0 || p.ended_at < first_cut) first_cut = p.ended_at;
              last_cut = std::max<double>(last_cut, p.ended_at);
              break;
            case End::kNone:
              break;
          }
          break;
      }
    }
    if (req == 0) continue;
    int refused = refused_connect + refused_closed;
    for (auto& [s, n] : refused_status) refused += n;
    json kj = {{"requested", req},
               {"open", open},
               {"refused", refused},
               {"refused_connect", refused_connect},
               {"refused_closed", refused_closed},
               {"refused_status", refused_status},
               {"no_answer", none},
               {"cut", cut},
               {"cut_how", cut_status},
               {"client_errors", client}};
    if (not_trickling) kj["ready_not_trickling"] = not_trickling;
    if (cut) {
      kj["first_cut_s"] = first_cut;
      kj["last_cut_s"] = last_cut;
    }
    j[kKindNames[k]] = kj;
    total_open += open;
    total_refused += refused;
    total_cut += cut;
    total_none += none;
    total_client += client;
  }
  j["open"] = total_open;
  j["refused"] = total_refused;
  j["cut"] = total_cut;
  j["no_answer"] = total_none;
  j["client_errors"] = total_client;
  return j;
}

}  // namespace berth_bench::crowd
