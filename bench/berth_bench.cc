// berth_bench: a load tool for OCI/Docker registries (Berth and registry:2).
//
// One subcommand per scenario; each prints exactly one JSON line on stdout
// (progress goes to stderr). Every target must be a loopback address, every
// loop is bounded in count and in time, and a watchdog ends the process when a
// scenario overruns --max-seconds.
//
// Threads with synchronous keep-alive connections: one connection per worker.
// Large bodies are never held in memory: a blob of N bytes is an 8 MiB
// pseudo-random pattern repeated (seeded), hashed in a pre-pass and then
// streamed from that same buffer.
//
// See bench/README.md for the scenarios.

#include <openssl/evp.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void logf(const std::string& s) { std::cerr << "[berth_bench] " << s << std::endl; }

// ---------------------------------------------------------------- arguments

class Args {
 public:
  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (!a.starts_with("--")) fail("unexpected argument: " + a);
      a = a.substr(2);
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        kv_[a.substr(0, eq)] = a.substr(eq + 1);
      } else if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) {
        kv_[a] = argv[++i];
      } else {
        kv_.insert_or_assign(a, std::string("1"));  // not = "1": GCC 12 -Wrestrict false positive at -O3
      }
    }
  }
  bool has(const std::string& k) const { return kv_.count(k) != 0; }
  std::string str(const std::string& k, const std::string& def = "") const {
    auto it = kv_.find(k);
    return it == kv_.end() ? def : it->second;
  }
  std::string need(const std::string& k) const {
    if (!has(k)) fail("missing --" + k);
    return str(k);
  }
  long long num(const std::string& k, long long def) const { return has(k) ? std::stoll(str(k)) : def; }
  double dbl(const std::string& k, double def) const { return has(k) ? std::stod(str(k)) : def; }
  bool flag(const std::string& k, bool def) const {
    if (!has(k)) return def;
    auto v = str(k);
    return v == "1" || v == "true" || v == "yes" || v == "on";
  }
  uint64_t size(const std::string& k, uint64_t def) const { return has(k) ? parseSize(str(k)) : def; }

  static uint64_t parseSize(const std::string& s) {
    size_t pos = 0;
    double v = std::stod(s, &pos);
    std::string unit = s.substr(pos);
    for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    uint64_t m = 1;
    if (unit.empty() || unit == "b") m = 1;
    else if (unit == "k" || unit == "kib" || unit == "kb") m = KiB;
    else if (unit == "m" || unit == "mib" || unit == "mb") m = MiB;
    else if (unit == "g" || unit == "gib" || unit == "gb") m = GiB;
    else fail("bad size unit in " + s);
    return static_cast<uint64_t>(v * static_cast<double>(m));
  }

 private:
  std::map<std::string, std::string> kv_;
};

// ---------------------------------------------------------------- hashing / data

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) fail("EVP sha256 init");
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    static const char* hex = "0123456789abcdef";
    std::string out = "sha256:";
    for (unsigned i = 0; i < len; ++i) {
      out += hex[md[i] >> 4];
      out += hex[md[i] & 15];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string sha256Of(std::string_view s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.digest();
}

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Deterministic pseudo-random bytes: word i of stream `seed` is mix64(seed*φ + i).
void fillRandom(uint64_t seed, uint8_t* dst, size_t len) {
  uint64_t base = seed * 0x9E3779B97F4A7C15ULL;
  uint64_t i = 0;
  while (len >= 8) {
    uint64_t w = mix64(base + i++);
    std::memcpy(dst, &w, 8);
    dst += 8;
    len -= 8;
  }
  if (len) {
    uint64_t w = mix64(base + i);
    std::memcpy(dst, &w, len);
  }
}

std::string randomBytes(uint64_t seed, size_t len) {
  std::string s(len, '\0');
  fillRandom(seed, reinterpret_cast<uint8_t*>(s.data()), len);
  return s;
}

// A large blob: an 8 MiB pseudo-random pattern repeated up to `size` bytes.
class Pattern {
 public:
  static constexpr uint64_t kPeriod = 8 * MiB;
  Pattern(uint64_t seed, uint64_t size) : size_(size), buf_(kPeriod) { fillRandom(seed, buf_.data(), kPeriod); }
  uint64_t size() const { return size_; }
  // Contiguous bytes at `off`, at most `max` of them.
  std::pair<const uint8_t*, size_t> at(uint64_t off, uint64_t max) const {
    uint64_t in = off % kPeriod;
    uint64_t n = std::min<uint64_t>({kPeriod - in, max, size_ - off});
    return {buf_.data() + in, static_cast<size_t>(n)};
  }
  std::string digest() const {
    Sha256 h;
    for (uint64_t off = 0; off < size_;) {
      auto [p, n] = at(off, size_ - off);
      h.update(p, n);
      off += n;
    }
    return h.digest();
  }

 private:
  uint64_t size_;
  std::vector<uint8_t> buf_;
};

// ---------------------------------------------------------------- target

struct Target {
  std::string hostport;
  tcp::endpoint ep;
};

Target parseTarget(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) fail("target must be HOST:PORT: " + s);
  std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) fail("target host must be a literal loopback address: " + s);
  if (!addr.is_loopback()) fail("refusing non-loopback target " + s + " (only 127.0.0.0/8 and ::1 are allowed)");
  int p = std::stoi(port);
  if (p <= 0 || p > 65535) fail("bad port in " + s);
  return Target{s, tcp::endpoint(addr, static_cast<unsigned short>(p))};
}

// Path (+query) of a Location/Link URL; absolute URLs must point at the target.
std::string pathOf(const std::string& url, const Target& t) {
  if (url.starts_with("http://") || url.starts_with("https://")) {
    auto hs = url.find("//") + 2;
    auto slash = url.find('/', hs);
    std::string host = url.substr(hs, slash == std::string::npos ? std::string::npos : slash - hs);
    std::string h = host.substr(0, host.rfind(':'));
    if (h == "localhost") h = "127.0.0.1";
    if (h.size() > 2 && h.front() == '[') h = h.substr(1, h.size() - 2);
    boost::system::error_code ec;
    auto addr = net::ip::make_address(h, ec);
    if (ec || !addr.is_loopback()) fail("refusing to follow non-loopback URL " + url);
    if (host != t.hostport) fail("URL points at another server: " + url);
    return slash == std::string::npos ? "/" : url.substr(slash);
  }
  return url;
}

std::string withQuery(const std::string& url, const std::string& q) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + q;
}

std::string urlEncode(std::string_view s) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// ---------------------------------------------------------------- HTTP connection

struct Resp {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined with ", "
  std::string body;
  uint64_t body_bytes = 0;
  std::string header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? "" : it->second;
  }
};

using Sink = std::function<void(const uint8_t*, size_t)>;
using Headers = std::vector<std::pair<std::string_view, std::string_view>>;

struct Req {
  std::string_view method{};
  std::string_view target{};
  Headers headers{};
  std::string_view body{};
  const Pattern* stream = nullptr;  // body from a pattern instead of `body`
  uint64_t stream_off = 0, stream_len = 0;
  const Sink* sink = nullptr;  // 2xx body to the sink instead of Resp::body
};

class Conn {
 public:
  explicit Conn(const Target& t) : t_(t), sock_(ioc_) {}
  ~Conn() { close(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  void close() {
    boost::system::error_code ec;
    if (sock_.is_open()) {
      sock_.shutdown(tcp::socket::shutdown_both, ec);
      sock_.close(ec);
    }
    buf_.clear();
  }

  uint64_t requests() const { return requests_; }
  uint64_t connects() const { return connects_; }

  Resp send(const Req& rq) {
    for (int attempt = 0;; ++attempt) {
      bool fresh = ensure();
      bool wrote_all = false;
      try {
        writeRequest(rq);
        wrote_all = true;
        Resp r = readResponse(rq);
        ++requests_;
        return r;
      } catch (const boost::system::system_error& e) {
        if (!wrote_all && rq.stream) {
          // The server may have answered (e.g. an error) before reading the whole body.
          try {
            Resp r = readResponse(rq);
            close();
            return r;
          } catch (const std::exception&) {
          }
        }
        close();
        // A reused keep-alive connection may have been closed by the server while idle: retry once.
        bool retry = !fresh && attempt == 0 && rq.stream == nullptr;
        if (!retry) {
          if (!wrote_all && rq.stream) fail(std::string("upload aborted by server: ") + e.what());
          fail(std::string(rq.method) + " " + std::string(rq.target) + ": " + e.what());
        }
      }
    }
  }

 private:
  bool ensure() {
    if (sock_.is_open()) return false;
    buf_.clear();
    sock_.connect(t_.ep);
    sock_.set_option(tcp::no_delay(true));
    ++connects_;
    return true;
  }

  void writeRequest(const Req& rq) {
    head_.clear();
    head_.append(rq.method).append(" ").append(rq.target).append(" HTTP/1.1\r\nHost: ").append(t_.hostport);
    head_.append("\r\nUser-Agent: berth_bench/1\r\n");
    for (auto& [k, v] : rq.headers) head_.append(k).append(": ").append(v).append("\r\n");
    uint64_t len = rq.stream ? rq.stream_len : rq.body.size();
    bool body_method = rq.method == "PUT" || rq.method == "POST" || rq.method == "PATCH";
    if (len || body_method) head_.append("Content-Length: ").append(std::to_string(len)).append("\r\n");
    head_.append("\r\n");
    if (!rq.stream) {
      std::array<net::const_buffer, 2> bufs{net::buffer(head_), net::buffer(rq.body.data(), rq.body.size())};
      net::write(sock_, bufs);
      return;
    }
    net::write(sock_, net::buffer(head_));
    uint64_t off = rq.stream_off, end = rq.stream_off + rq.stream_len;
    while (off < end) {
      auto [p, n] = rq.stream->at(off, std::min<uint64_t>(end - off, 4 * MiB));
      net::write(sock_, net::buffer(p, n));
      off += n;
    }
  }

  template <class Parser>
  void collectHeaders(Parser& p, Resp& r) {
    auto& m = p.get();
    r.status = static_cast<int>(m.result_int());
    for (auto const& f : m) {
      std::string k(f.name_string());
      for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto& slot = r.headers[k];
      if (!slot.empty()) slot += ", ";
      slot += std::string(f.value());
    }
  }

  Resp readResponse(const Req& rq) {
    Resp r;
    bool head = rq.method == "HEAD";
    if (!rq.sink) {
      http::response_parser<http::string_body> p;
      p.header_limit(256 * 1024);
      p.body_limit(512 * MiB);
      if (head) p.skip(true);
      http::read(sock_, buf_, p);
      collectHeaders(p, r);
      r.body = std::move(p.get().body());
      r.body_bytes = r.body.size();
      if (!p.get().keep_alive()) close();
      return r;
    }
    // Streaming download.
    http::response_parser<http::buffer_body> p;
    p.header_limit(256 * 1024);
    p.body_limit(boost::none);
    if (head) p.skip(true);
    http::read_header(sock_, buf_, p);
    collectHeaders(p, r);
    bool ok = r.status >= 200 && r.status < 300;
    Sink to_string = [&r](const uint8_t* d, size_t n) { r.body.append(reinterpret_cast<const char*>(d), n); };
    const Sink& sink = ok ? *rq.sink : to_string;
    if (!big_) big_ = std::make_unique<uint8_t[]>(kBig);
    if (p.is_done()) {
      // no body
    } else if (p.content_length() && !p.chunked()) {
      // Fast path: bytes after the header straight from the socket.
      uint64_t remaining = *p.content_length();
      if (buf_.size()) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(buf_.size(), remaining));
        sink(static_cast<const uint8_t*>(buf_.data().data()), take);
        buf_.consume(take);
        remaining -= take;
        r.body_bytes += take;
      }
      while (remaining) {
        size_t n = sock_.read_some(net::buffer(big_.get(), static_cast<size_t>(std::min<uint64_t>(kBig, remaining))));
        sink(big_.get(), n);
        remaining -= n;
        r.body_bytes += n;
      }
    } else {
      while (!p.is_done()) {
        p.get().body().data = big_.get();
        p.get().body().size = kBig;
        boost::system::error_code ec;
        http::read(sock_, buf_, p, ec);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) throw boost::system::system_error(ec);
        size_t n = kBig - p.get().body().size;
        sink(big_.get(), n);
        r.body_bytes += n;
      }
    }
    if (!p.get().keep_alive()) close();
    return r;
  }

  static constexpr size_t kBig = 1 * MiB;
  Target t_;
  net::io_context ioc_;
  tcp::socket sock_;
  beast::flat_buffer buf_;
  std::string head_;
  std::unique_ptr<uint8_t[]> big_;
  uint64_t requests_ = 0, connects_ = 0;
};

std::string describe(const Resp& r) {
  std::string b = r.body.substr(0, 300);
  for (auto& c : b)
    if (c == '\n' || c == '\r') c = ' ';
  return "HTTP " + std::to_string(r.status) + (b.empty() ? "" : " " + b);
}

void expectStatus(const Resp& r, int want, const std::string& what) {
  if (r.status != want) fail(what + ": want " + std::to_string(want) + ", got " + describe(r));
}

// ---------------------------------------------------------------- server probe (/proc)

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::optional<double> procCpuSeconds(int pid) {
  std::string s = readFile("/proc/" + std::to_string(pid) + "/stat");
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::istringstream in(s.substr(rp + 2));
  std::vector<std::string> f;
  std::string tok;
  while (in >> tok) f.push_back(tok);
  if (f.size() < 13) return std::nullopt;
  // after ')': state(3) ppid(4) ... utime(14) stime(15) -> indices 11, 12
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(f[11]) + std::stod(f[12])) / ticks;
}

std::optional<long> procStatusKib(int pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with(key + ":")) return std::stol(line.substr(key.size() + 1));
  }
  return std::nullopt;
}

// CPU seconds and peak RSS of the server process over a measured window.
class Probe {
 public:
  explicit Probe(int pid) : pid_(pid) {}
  ~Probe() { stopSampler(); }
  void start() {
    if (!pid_) return;
    if (!procCpuSeconds(pid_)) fail("no such server pid " + std::to_string(pid_));
    std::ofstream cr("/proc/" + std::to_string(pid_) + "/clear_refs");
    cr << "5";  // resets VmHWM to the current RSS
    cr.flush();
    hwm_reset_ = cr.good();
    cpu0_ = *procCpuSeconds(pid_);
    running_ = true;
    sampler_ = std::thread([this] {
      while (running_) {
        if (auto v = procStatusKib(pid_, "VmRSS")) max_rss_ = std::max(max_rss_.load(), *v);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  json finish() {
    json j = json::object();
    if (!pid_) return j;
    auto cpu1 = procCpuSeconds(pid_);
    stopSampler();
    auto hwm = procStatusKib(pid_, "VmHWM");
    long sampled = max_rss_.load();
    long peak = sampled;
    if (hwm_reset_ && hwm) peak = std::max(peak, *hwm);
    j["server_cpu_s"] = cpu1 ? *cpu1 - cpu0_ : -1.0;
    j["server_peak_rss_kib"] = peak;
    j["server_rss_sampled_max_kib"] = sampled;
    j["server_vmhwm_kib"] = hwm ? *hwm : -1;
    j["server_vmhwm_reset"] = hwm_reset_;
    return j;
  }

 private:
  void stopSampler() {
    running_ = false;
    if (sampler_.joinable()) sampler_.join();
  }
  int pid_;
  double cpu0_ = 0;
  bool hwm_reset_ = false;
  std::atomic<bool> running_{false};
  std::atomic<long> max_rss_{0};
  std::thread sampler_;
};

double clientCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------- registry operations

const std::string kOciManifest = "application/vnd.oci.image.manifest.v1+json";
const std::string kOciConfig = "application/vnd.oci.image.config.v1+json";
const std::string kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
const std::string kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
const std::string kDockerConfig = "application/vnd.docker.container.image.v1+json";
const std::string kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const std::string kAcceptManifests =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

struct Blob {
  std::string digest;
  std::string data;
};

struct Image {
  Blob config;
  std::vector<Blob> layers;
  std::string manifest, manifest_digest, media_type;
};

std::string startUpload(Conn& c, const std::string& repo) {
  Resp r = c.send({.method = "POST", .target = "/v2/" + repo + "/blobs/uploads/"});
  expectStatus(r, 202, "POST upload " + repo);
  auto loc = r.header("location");
  if (loc.empty()) fail("POST upload: no Location");
  return loc;
}

// HEAD (optional), POST, PUT ?digest= with the body. Returns the number of requests made.
int pushSmallBlob(Conn& c, const Target& t, const std::string& repo, const Blob& b, bool head_first) {
  int n = 0;
  if (head_first) {
    ++n;
    Resp h = c.send({.method = "HEAD", .target = "/v2/" + repo + "/blobs/" + b.digest});
    if (h.status == 200) return n;
    expectStatus(h, 404, "HEAD blob");
  }
  std::string loc = pathOf(startUpload(c, repo), t);
  ++n;
  Resp r = c.send({.method = "PUT",
                   .target = withQuery(loc, "digest=" + b.digest),
                   .headers = {{"Content-Type", "application/octet-stream"}},
                   .body = b.data});
  ++n;
  expectStatus(r, 201, "PUT blob " + repo);
  return n;
}

// Cross-repository mount, falling back to an upload. Returns requests made.
int mountOrPush(Conn& c, const Target& t, const std::string& repo, const std::string& from, const Blob& b) {
  Resp r = c.send({.method = "POST",
                   .target = "/v2/" + repo + "/blobs/uploads/?mount=" + b.digest + "&from=" + urlEncode(from)});
  if (r.status == 201) return 1;
  expectStatus(r, 202, "POST mount " + repo);
  std::string loc = pathOf(r.header("location"), t);
  Resp p = c.send({.method = "PUT",
                   .target = withQuery(loc, "digest=" + b.digest),
                   .headers = {{"Content-Type", "application/octet-stream"}},
                   .body = b.data});
  expectStatus(p, 201, "PUT blob (mount fallback) " + repo);
  return 2;
}

Image makeImage(uint64_t seed, int layers, size_t layer_size, bool oci) {
  Image img;
  json diff_ids = json::array();
  for (int l = 0; l < layers; ++l) {
    Blob b;
    b.data = randomBytes(seed * 1000003ULL + static_cast<uint64_t>(l) + 1, layer_size);
    b.digest = sha256Of(b.data);
    diff_ids.push_back(b.digest);
    img.layers.push_back(std::move(b));
  }
  json cfg = {{"architecture", "amd64"},
              {"os", "linux"},
              {"created", "2024-01-01T00:00:00Z"},
              {"config", {{"Env", {"BENCH_SEED=" + std::to_string(seed)}}}},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  img.config.data = cfg.dump();
  img.config.digest = sha256Of(img.config.data);
  img.media_type = oci ? kOciManifest : kDockerManifest;
  json lj = json::array();
  for (auto& b : img.layers)
    lj.push_back({{"mediaType", oci ? kOciLayer : kDockerLayer}, {"size", b.data.size()}, {"digest", b.digest}});
  json m = {{"schemaVersion", 2},
            {"mediaType", img.media_type},
            {"config",
             {{"mediaType", oci ? kOciConfig : kDockerConfig},
              {"size", img.config.data.size()},
              {"digest", img.config.digest}}},
            {"layers", lj}};
  img.manifest = m.dump();
  img.manifest_digest = sha256Of(img.manifest);
  return img;
}

int putManifest(Conn& c, const std::string& repo, const std::string& ref, const Image& img) {
  Resp r = c.send({.method = "PUT",
                   .target = "/v2/" + repo + "/manifests/" + ref,
                   .headers = {{"Content-Type", img.media_type}},
                   .body = img.manifest});
  expectStatus(r, 201, "PUT manifest " + repo + ":" + ref);
  auto d = r.header("docker-content-digest");
  if (!d.empty() && d != img.manifest_digest) fail("PUT manifest: digest " + d + " != " + img.manifest_digest);
  return 1;
}

int pushImage(Conn& c, const Target& t, const std::string& repo, const std::string& tag, const Image& img,
              bool head_first) {
  int n = 0;
  for (auto& b : img.layers) n += pushSmallBlob(c, t, repo, b, head_first);
  n += pushSmallBlob(c, t, repo, img.config, head_first);
  n += putManifest(c, repo, tag, img);
  return n;
}

bool isOci(const Args& a) { return a.str("media", "oci") != "docker"; }

// ---------------------------------------------------------------- statistics

json latencyStats(std::vector<double>& us) {
  json j = json::object();
  if (us.empty()) return j;
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    size_t idx = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(us.size())));
    idx = std::clamp<size_t>(idx, 1, us.size()) - 1;
    return us[idx] / 1000.0;
  };
  double sum = 0;
  for (double v : us) sum += v;
  j["p50_ms"] = pct(50);
  j["p90_ms"] = pct(90);
  j["p99_ms"] = pct(99);
  j["max_ms"] = us.back() / 1000.0;
  j["mean_ms"] = sum / static_cast<double>(us.size()) / 1000.0;
  j["samples"] = us.size();
  return j;
}

double micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// ---------------------------------------------------------------- scenarios

json cmdPush(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/big");
  uint64_t size = a.size("size", 1 * GiB);
  std::string mode = a.str("mode", "mono");
  uint64_t chunk = a.size("chunk", 64 * MiB);
  uint64_t seed = static_cast<uint64_t>(a.num("seed", 1));
  if (size == 0 || chunk == 0) fail("size and chunk must be > 0");
  if (mode != "mono" && mode != "chunked" && mode != "post") fail("--mode mono|chunked|post");

  Pattern pat(seed, size);
  auto th = Clock::now();
  std::string digest = pat.digest();
  double hash_s = secondsSince(th);
  logf("push " + mode + ": " + std::to_string(size) + " bytes, " + digest);

  Conn c(t);
  Resp ping = c.send({.method = "GET", .target = "/v2/"});
  if (ping.status != 200 && ping.status != 401) fail("GET /v2/: " + describe(ping));

  Probe probe(static_cast<int>(a.num("pid", 0)));
  probe.start();
  double ccpu0 = clientCpuSeconds();
  auto t0 = Clock::now();
  int requests = 0;
  if (mode == "post") {
    // Single request: POST ?digest= with the body (spec's monolithic upload).
    Resp r = c.send({.method = "POST",
                     .target = "/v2/" + repo + "/blobs/uploads/?digest=" + digest,
                     .headers = {{"Content-Type", "application/octet-stream"}},
                     .stream = &pat,
                     .stream_len = size});
    ++requests;
    expectStatus(r, 201, "POST ?digest= (monolithic)");
  } else {
    std::string loc = pathOf(startUpload(c, repo), t);
    ++requests;
    if (mode == "mono") {
      Resp r = c.send({.method = "PUT",
                       .target = withQuery(loc, "digest=" + digest),
                       .headers = {{"Content-Type", "application/octet-stream"}},
                       .stream = &pat,
                       .stream_len = size});
      ++requests;
      expectStatus(r, 201, "PUT monolithic");
    } else {
      for (uint64_t off = 0; off < size; off += chunk) {
        uint64_t n = std::min(chunk, size - off);
        std::string range = std::to_string(off) + "-" + std::to_string(off + n - 1);
        Resp r = c.send({.method = "PATCH",
                         .target = loc,
                         .headers = {{"Content-Type", "application/octet-stream"}, {"Content-Range", range}},
                         .stream = &pat,
                         .stream_off = off,
                         .stream_len = n});
        ++requests;
        expectStatus(r, 202, "PATCH " + range);
        if (r.header("location").empty()) fail("PATCH: no Location");
        loc = pathOf(r.header("location"), t);
      }
      Resp r = c.send({.method = "PUT", .target = withQuery(loc, "digest=" + digest)});
      ++requests;
      expectStatus(r, 201, "PUT finish chunked");
    }
  }
  double secs = secondsSince(t0);
  double ccpu = clientCpuSeconds() - ccpu0;
  json pj = probe.finish();

  // Verify: the blob exists with the right size.
  Resp h = c.send({.method = "HEAD", .target = "/v2/" + repo + "/blobs/" + digest});
  expectStatus(h, 200, "HEAD pushed blob");
  if (h.header("content-length") != std::to_string(size))
    fail("HEAD pushed blob: Content-Length " + h.header("content-length"));

  json j = {{"scenario", "push"},
            {"mode", mode},
            {"repo", repo},
            {"digest", digest},
            {"bytes", size},
            {"chunk", mode == "chunked" ? chunk : size},
            {"requests", requests},
            {"seconds", secs},
            {"mib_s", static_cast<double>(size) / MiB / secs},
            {"client_hash_s", hash_s},
            {"client_cpu_s", ccpu}};
  j.update(pj);
  if (pj.contains("server_cpu_s"))
    j["server_cpu_s_per_gib"] = pj["server_cpu_s"].get<double>() / (static_cast<double>(size) / GiB);
  return j;
}

json cmdPull(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/big");
  std::string digest = a.need("digest");
  uint64_t size = a.size("size", 0);
  int parallel = static_cast<int>(a.num("parallel", 1));
  bool verify = a.flag("verify", false);
  if (parallel < 1 || parallel > 64) fail("--parallel 1..64");

  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < parallel; ++i) {
    conns.push_back(std::make_unique<Conn>(t));
    Resp p = conns.back()->send({.method = "GET", .target = "/v2/"});
    if (p.status != 200 && p.status != 401) fail("GET /v2/: " + describe(p));
  }
  std::vector<uint64_t> got(static_cast<size_t>(parallel), 0);
  std::vector<std::string> errs(static_cast<size_t>(parallel)), digests(static_cast<size_t>(parallel));
  std::vector<double> ttfb(static_cast<size_t>(parallel), 0);

  Probe probe(static_cast<int>(a.num("pid", 0)));
  probe.start();
  double ccpu0 = clientCpuSeconds();
  auto t0 = Clock::now();
  std::vector<std::thread> ths;
  for (int i = 0; i < parallel; ++i) {
    ths.emplace_back([&, i] {
      auto idx = static_cast<size_t>(i);
      try {
        Sha256 h;
        bool first = true;
        Sink sink = [&](const uint8_t* d, size_t n) {
          if (first) {
            ttfb[idx] = secondsSince(t0);
            first = false;
          }
          if (verify) h.update(d, n);
          got[idx] += n;
        };
        std::string target = "/v2/" + repo + "/blobs/" + digest;
        Resp r = conns[idx]->send({.method = "GET", .target = target, .sink = &sink});
        for (int hop = 0; hop < 3 && (r.status == 307 || r.status == 302 || r.status == 301); ++hop) {
          target = pathOf(r.header("location"), t);
          r = conns[idx]->send({.method = "GET", .target = target, .sink = &sink});
        }
        expectStatus(r, 200, "GET blob");
        if (verify) digests[idx] = h.digest();
      } catch (const std::exception& e) {
        errs[idx] = e.what();
      }
    });
  }
  for (auto& th : ths) th.join();
  double secs = secondsSince(t0);
  double ccpu = clientCpuSeconds() - ccpu0;
  json pj = probe.finish();
  for (auto& e : errs)
    if (!e.empty()) fail(e);
  uint64_t total = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    total += got[i];
    if (size && got[i] != size) fail("pull: got " + std::to_string(got[i]) + " bytes, want " + std::to_string(size));
    if (verify && digests[i] != digest) fail("pull: digest mismatch " + digests[i]);
  }
  json j = {{"scenario", "pull"},
            {"repo", repo},
            {"digest", digest},
            {"parallel", parallel},
            {"bytes", total},
            {"seconds", secs},
            {"mib_s", static_cast<double>(total) / MiB / secs},
            {"ttfb_max_s", *std::max_element(ttfb.begin(), ttfb.end())},
            {"verified", verify},
            {"client_cpu_s", ccpu}};
  j.update(pj);
  if (pj.contains("server_cpu_s"))
    j["server_cpu_s_per_gib"] = pj["server_cpu_s"].get<double>() / (static_cast<double>(total) / GiB);
  return j;
}

// Runs `work(worker, conn)` on N workers, each with its own connection; first error wins.
void runWorkers(const Target& t, int workers, const std::function<void(int, Conn&)>& work) {
  std::vector<std::thread> ths;
  std::mutex mu;
  std::string first_err;
  for (int w = 0; w < workers; ++w) {
    ths.emplace_back([&, w] {
      try {
        Conn c(t);
        work(w, c);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> l(mu);
        if (first_err.empty()) first_err = e.what();
      }
    });
  }
  for (auto& th : ths) th.join();
  if (!first_err.empty()) fail(first_err);
}

json cmdSmallImages(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/small");
  int count = static_cast<int>(a.num("count", 500));
  int workers = static_cast<int>(a.num("workers", 16));
  int layers = static_cast<int>(a.num("layers", 3));
  size_t layer_size = a.size("layer-size", 4 * KiB);
  uint64_t seed = static_cast<uint64_t>(a.num("seed", 1000));
  bool head_first = a.flag("head-first", true);
  bool oci = isOci(a);
  if (count < 1 || count > 100000 || workers < 1 || workers > 256) fail("bad --count/--workers");

  std::atomic<int> next{0}, done{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<bool> abort{false};
  Probe probe(static_cast<int>(a.num("pid", 0)));
  probe.start();
  double ccpu0 = clientCpuSeconds();
  auto t0 = Clock::now();
  std::vector<std::vector<double>> lat(static_cast<size_t>(workers));
  try {
    runWorkers(t, workers, [&](int w, Conn& c) {
      try {
        for (int i; !abort && (i = next++) < count;) {
          // The image content is generated outside the timed push of each image.
          Image img = makeImage(seed * 100000ULL + static_cast<uint64_t>(i), layers, layer_size, oci);
          char tag[32];
          std::snprintf(tag, sizeof tag, "i%06d", i);
          auto s = Clock::now();
          requests += static_cast<uint64_t>(pushImage(c, t, repo, tag, img, head_first));
          lat[static_cast<size_t>(w)].push_back(micros(s, Clock::now()));
          ++done;
        }
      } catch (...) {
        abort = true;
        throw;
      }
    });
  } catch (const std::exception& e) {
    fail(std::string(e.what()) + " (after " + std::to_string(done.load()) + " images)");
  }
  double secs = secondsSince(t0);
  double ccpu = clientCpuSeconds() - ccpu0;
  json pj = probe.finish();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  json j = {{"scenario", "small-images"},
            {"repo", repo},
            {"images", done.load()},
            {"workers", workers},
            {"layers", layers},
            {"layer_size", layer_size},
            {"requests", requests.load()},
            {"seconds", secs},
            {"images_per_s", done.load() / secs},
            {"req_per_s", static_cast<double>(requests.load()) / secs},
            {"image_latency", latencyStats(all)},
            {"client_cpu_s", ccpu}};
  j.update(pj);
  if (pj.contains("server_cpu_s"))
    j["server_cpu_s_per_1k_req"] = pj["server_cpu_s"].get<double>() / (static_cast<double>(requests.load()) / 1000.0);
  return j;
}

// Closed-loop load: `conns` workers, each one keep-alive connection, for `seconds` after a warm-up.
struct LoadSpec {
  int conns = 64;
  double seconds = 10, warmup = 1;
  uint64_t max_requests = 5'000'000;
  int expect = 200;
  std::function<void(int worker, uint64_t iter, Req& rq, std::string& scratch)> make;
};

json runLoad(const Target& t, const LoadSpec& s, int pid) {
  if (s.conns < 1 || s.conns > 1024) fail("--conns 1..1024");
  if (s.seconds <= 0 || s.seconds > 600) fail("--seconds (0, 600]");
  std::atomic<int> phase{0};  // 0 warm-up, 1 measuring, 2 stop
  std::atomic<uint64_t> issued{0}, errors{0}, bad_status{0}, reconnects{0};
  std::atomic<int> active{s.conns};
  std::vector<std::vector<double>> lat(static_cast<size_t>(s.conns));
  std::mutex mu;
  std::string first_err;
  std::vector<std::thread> ths;
  for (int w = 0; w < s.conns; ++w) {
    ths.emplace_back([&, w] {
      auto& mine = lat[static_cast<size_t>(w)];
      mine.reserve(1 << 16);
      Conn c(t);
      Req rq;
      std::string scratch;
      for (uint64_t iter = 0; phase.load(std::memory_order_relaxed) < 2; ++iter) {
        if (issued++ >= s.max_requests) break;
        s.make(w, iter, rq, scratch);
        bool counted = phase.load(std::memory_order_relaxed) == 1;
        auto a = Clock::now();
        try {
          Resp r = c.send(rq);
          auto b = Clock::now();
          if (counted && phase.load(std::memory_order_relaxed) == 1) {
            mine.push_back(micros(a, b));
            if (r.status != s.expect) {
              if (bad_status++ == 0) {
                std::lock_guard<std::mutex> l(mu);
                if (first_err.empty()) first_err = std::string(rq.target) + ": " + describe(r);
              }
            }
          }
        } catch (const std::exception& e) {
          ++errors;
          {
            std::lock_guard<std::mutex> l(mu);
            if (first_err.empty()) first_err = e.what();
          }
          c.close();
          ++reconnects;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
      --active;
    });
  }
  auto waitUntil = [&](Clock::time_point deadline) {
    while (Clock::now() < deadline && active.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  auto tw = Clock::now();
  waitUntil(tw + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.warmup)));
  Probe probe(pid);
  probe.start();
  double ccpu0 = clientCpuSeconds();
  auto t0 = Clock::now();
  phase = 1;
  waitUntil(t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.seconds)));
  phase = 2;
  double secs = secondsSince(t0);
  double ccpu = clientCpuSeconds() - ccpu0;
  json pj = probe.finish();
  for (auto& th : ths) th.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  uint64_t n = all.size();
  json j = {{"conns", s.conns},
            {"seconds", secs},
            {"requests", n},
            {"rps", static_cast<double>(n) / secs},
            {"errors", errors.load()},
            {"bad_status", bad_status.load()},
            {"expect_status", s.expect},
            {"client_cpu_s", ccpu}};
  if (!first_err.empty()) j["first_error"] = first_err;
  j.update(latencyStats(all));
  j.update(pj);
  if (pj.contains("server_cpu_s") && n)
    j["server_cpu_s_per_1k_req"] = pj["server_cpu_s"].get<double>() / (static_cast<double>(n) / 1000.0);
  if (n == 0) fail("no request completed" + (first_err.empty() ? "" : ": " + first_err));
  if (bad_status.load() * 100 > n) fail("more than 1% unexpected status: " + first_err);
  return j;
}

LoadSpec loadSpecFrom(const Args& a) {
  LoadSpec s;
  s.conns = static_cast<int>(a.num("conns", 64));
  s.seconds = a.dbl("seconds", 10);
  s.warmup = a.dbl("warmup", 1);
  s.max_requests = static_cast<uint64_t>(a.num("max-requests", 5'000'000));
  return s;
}

json cmdManifestLoad(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/m");
  std::string tag = a.str("tag", "latest");
  std::string method = a.str("method", "GET");
  std::string by = a.str("by", method == "GET" ? "tag" : "digest");
  if (method != "GET" && method != "HEAD") fail("--method GET|HEAD");
  if (by != "tag" && by != "digest") fail("--by tag|digest");

  Image img = makeImage(static_cast<uint64_t>(a.num("seed", 77)), 3, 4 * KiB, isOci(a));
  {
    Conn c(t);
    pushImage(c, t, repo, tag, img, true);
    Resp g = c.send({.method = "GET",
                     .target = "/v2/" + repo + "/manifests/" + tag,
                     .headers = {{"Accept", kAcceptManifests}}});
    expectStatus(g, 200, "GET manifest");
    if (sha256Of(g.body) != img.manifest_digest) fail("GET manifest: body digest mismatch");
  }
  const std::string target = "/v2/" + repo + "/manifests/" + (by == "tag" ? tag : img.manifest_digest);
  LoadSpec s = loadSpecFrom(a);
  s.make = [&](int, uint64_t, Req& rq, std::string&) {
    rq.method = method;
    rq.target = target;
    if (rq.headers.empty()) rq.headers = {{"Accept", kAcceptManifests}};
  };
  json j = runLoad(t, s, static_cast<int>(a.num("pid", 0)));
  j["scenario"] = "manifest-load";
  j["method"] = method;
  j["by"] = by;
  j["target"] = target;
  return j;
}

json cmdBlobHead(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/m");
  bool present = a.flag("present", true);
  Image img = makeImage(static_cast<uint64_t>(a.num("seed", 77)), 3, 4 * KiB, isOci(a));
  {
    Conn c(t);
    pushImage(c, t, repo, a.str("tag", "latest"), img, true);
  }
  std::vector<std::string> targets;
  for (auto& b : img.layers) targets.push_back("/v2/" + repo + "/blobs/" + b.digest);
  targets.push_back("/v2/" + repo + "/blobs/" + img.config.digest);
  const std::string prefix = "/v2/" + repo + "/blobs/sha256:";
  LoadSpec s = loadSpecFrom(a);
  s.expect = present ? 200 : 404;
  s.make = [&](int w, uint64_t iter, Req& rq, std::string& scratch) {
    rq.method = "HEAD";
    if (present) {
      rq.target = targets[(static_cast<uint64_t>(w) + iter) % targets.size()];
    } else {
      // A fresh absent digest every request.
      static const char* hex = "0123456789abcdef";
      scratch = prefix;
      for (int k = 0; k < 4; ++k) {
        uint64_t v = mix64((static_cast<uint64_t>(w) << 40) ^ (iter * 4 + static_cast<uint64_t>(k)) ^ 0xabcdefULL);
        for (int d = 0; d < 16; ++d) scratch += hex[(v >> (4 * d)) & 15];
      }
      rq.target = scratch;
    }
  };
  json j = runLoad(t, s, static_cast<int>(a.num("pid", 0)));
  j["scenario"] = "blob-head";
  j["present"] = present;
  return j;
}

json cmdSeedTags(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string repo = a.str("repo", "docker-local/bench/tags");
  int count = static_cast<int>(a.num("count", 10000));
  int workers = static_cast<int>(a.num("workers", 16));
  if (count < 1 || count > 200000 || workers < 1 || workers > 256) fail("bad --count/--workers");
  Image img = makeImage(static_cast<uint64_t>(a.num("seed", 99)), 1, 4 * KiB, isOci(a));
  auto t0 = Clock::now();
  {
    Conn c(t);
    pushImage(c, t, repo, "t000000", img, true);
  }
  std::atomic<int> next{1};
  runWorkers(t, workers, [&](int, Conn& c) {
    for (int i; (i = next++) < count;) {
      char tag[32];
      std::snprintf(tag, sizeof tag, "t%06d", i);
      putManifest(c, repo, tag, img);
    }
  });
  return {{"scenario", "seed-tags"}, {"repo", repo}, {"tags", count}, {"seconds", secondsSince(t0)}};
}

json cmdSeedRepos(const Args& a) {
  Target t = parseTarget(a.need("target"));
  std::string prefix = a.str("prefix", "docker-local/bench/cat/r");
  int count = static_cast<int>(a.num("count", 2000));
  int workers = static_cast<int>(a.num("workers", 16));
  if (count < 1 || count > 100000 || workers < 1 || workers > 256) fail("bad --count/--workers");
  Image img = makeImage(static_cast<uint64_t>(a.num("seed", 55)), 1, 4 * KiB, isOci(a));
  auto name = [&](int i) {
    char b[16];
    std::snprintf(b, sizeof b, "%05d", i);
    return prefix + b;
  };
  auto t0 = Clock::now();
  const std::string first = name(0);
  {
    Conn c(t);
    pushImage(c, t, first, "latest", img, true);
  }
  std::atomic<int> next{1}, mounted{0};
  std::atomic<uint64_t> requests{0};
  runWorkers(t, workers, [&](int, Conn& c) {
    for (int i; (i = next++) < count;) {
      std::string repo = name(i);
      int n = 0;
      for (auto* b : {&img.layers[0], &img.config}) {
        int k = mountOrPush(c, t, repo, first, *b);
        if (k == 1) ++mounted;
        n += k;
      }
      n += putManifest(c, repo, "latest", img);
      requests += static_cast<uint64_t>(n);
    }
  });
  return {{"scenario", "seed-repos"},
          {"prefix", prefix},
          {"repos", count},
          {"blobs_mounted", mounted.load()},
          {"requests", requests.load()},
          {"seconds", secondsSince(t0)}};
}

std::string nextLink(const Resp& r) {
  std::string link = r.header("link");
  if (link.empty() || link.find("next") == std::string::npos) return "";
  auto lt = link.find('<'), gt = link.find('>');
  if (lt == std::string::npos || gt == std::string::npos || gt < lt) return "";
  return link.substr(lt + 1, gt - lt - 1);
}

// Repeated full walks of a paginated list; latency per page and per walk.
json walkPages(const Args& a, const std::string& first_target, const std::string& key, const std::string& scenario) {
  Target t = parseTarget(a.need("target"));
  int iterations = static_cast<int>(a.num("iterations", 20));
  double max_secs = a.dbl("seconds", 60);
  long expect_min = a.num("expect-min", 0);
  if (iterations < 1 || iterations > 100000) fail("--iterations 1..100000");
  Conn c(t);
  Resp ping = c.send({.method = "GET", .target = "/v2/"});
  if (ping.status != 200 && ping.status != 401) fail("GET /v2/: " + describe(ping));
  std::vector<double> first_page, later_pages, walks;
  long items = 0, pages = 0;
  size_t max_page_bytes = 0;
  bool empty_last_page = false, sorted = true;
  Probe probe(static_cast<int>(a.num("pid", 0)));
  probe.start();
  auto t0 = Clock::now();
  uint64_t reqs = 0;
  int it = 0;
  for (; it < iterations && (it == 0 || secondsSince(t0) < max_secs); ++it) {
    std::string target = first_target;
    long n_items = 0, n_pages = 0;
    auto ws = Clock::now();
    bool last_empty = false;
    std::string prev;
    while (!target.empty() && n_pages < 10000) {
      auto s = Clock::now();
      Resp r = c.send({.method = "GET", .target = target});
      auto e = Clock::now();
      ++reqs;
      expectStatus(r, 200, "GET " + target);
      (n_pages == 0 ? first_page : later_pages).push_back(micros(s, e));
      ++n_pages;
      max_page_bytes = std::max(max_page_bytes, r.body.size());
      json body = json::parse(r.body);
      size_t k = body.contains(key) && body[key].is_array() ? body[key].size() : 0;
      if (k) {
        for (auto& v : body[key]) {
          std::string sv = v.is_string() ? v.get<std::string>() : "";
          if (!prev.empty() && sv < prev) sorted = false;
          prev = std::move(sv);
        }
      }
      n_items += static_cast<long>(k);
      last_empty = k == 0;
      std::string next = nextLink(r);
      target = next.empty() ? "" : pathOf(next, t);
    }
    walks.push_back(micros(ws, Clock::now()));
    items = n_items;
    pages = n_pages;
    empty_last_page = last_empty && n_pages > 1;
  }
  double secs = secondsSince(t0);
  json pj = probe.finish();
  if (items < expect_min)
    fail(scenario + ": saw " + std::to_string(items) + " " + key + ", want >= " + std::to_string(expect_min));
  std::vector<double> all_pages = first_page;
  all_pages.insert(all_pages.end(), later_pages.begin(), later_pages.end());
  json j = {{"scenario", scenario},
            {"first_target", first_target},
            {"walks", it},
            {"items", items},
            {"pages_per_walk", pages},
            {"empty_last_page", empty_last_page},
            {"sorted", sorted},
            {"max_page_bytes", max_page_bytes},
            {"requests", reqs},
            {"seconds", secs},
            {"page", latencyStats(all_pages)},
            {"first_page", latencyStats(first_page)},
            {"walk", latencyStats(walks)}};
  if (!later_pages.empty()) j["later_pages"] = latencyStats(later_pages);
  j.update(pj);
  if (pj.contains("server_cpu_s") && reqs)
    j["server_cpu_s_per_1k_req"] = pj["server_cpu_s"].get<double>() / (static_cast<double>(reqs) / 1000.0);
  return j;
}

json cmdTagsList(const Args& a) {
  std::string repo = a.str("repo", "docker-local/bench/tags");
  std::string target = "/v2/" + repo + "/tags/list";
  if (a.has("n")) target += "?n=" + a.str("n");
  json j = walkPages(a, target, "tags", "tags-list");
  if (a.has("n")) j["n"] = a.num("n", 0);
  return j;
}

json cmdCatalog(const Args& a) {
  json j = walkPages(a, "/v2/_catalog?n=" + std::to_string(a.num("n", 1000)), "repositories", "catalog");
  j["n"] = a.num("n", 1000);
  return j;
}

// Loopback TCP throughput: one sender thread, one receiver thread, one connection.
json cmdLoopback(const Args& a) {
  uint64_t size = a.size("size", 4 * GiB);
  net::io_context ioc;
  tcp::acceptor acc(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  auto ep = acc.local_endpoint();
  uint64_t received = 0;
  std::thread rx([&] {
    tcp::socket s(ioc);
    acc.accept(s);
    std::vector<uint8_t> buf(1 * MiB);
    boost::system::error_code ec;
    while (true) {
      size_t n = s.read_some(net::buffer(buf), ec);
      received += n;
      if (ec) break;
    }
  });
  Pattern pat(3, size);
  net::io_context ioc2;
  tcp::socket tx(ioc2);
  tx.connect(ep);
  auto t0 = Clock::now();
  for (uint64_t off = 0; off < size;) {
    auto [p, n] = pat.at(off, 4 * MiB);
    net::write(tx, net::buffer(p, n));
    off += n;
  }
  tx.shutdown(tcp::socket::shutdown_send);
  rx.join();
  double secs = secondsSince(t0);
  if (received != size) fail("loopback: received " + std::to_string(received));
  return {{"scenario", "loopback"}, {"bytes", size}, {"seconds", secs}, {"mib_s", static_cast<double>(size) / MiB / secs}};
}

json cmdFreePort(const Args&) {
  net::io_context ioc;
  tcp::acceptor acc(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return {{"port", acc.local_endpoint().port()}};
}

json cmdWait(const Args& a) {
  Target t = parseTarget(a.need("target"));
  double timeout = a.dbl("timeout", 30);
  auto t0 = Clock::now();
  std::string last;
  while (secondsSince(t0) < timeout) {
    try {
      Conn c(t);
      Resp r = c.send({.method = "GET", .target = "/v2/"});
      if (r.status == 200 || r.status == 401) return {{"ready", true}, {"seconds", secondsSince(t0)}};
      last = describe(r);
    } catch (const std::exception& e) {
      last = e.what();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  fail("server not ready after " + std::to_string(timeout) + "s: " + last);
}

// ---------------------------------------------------------------- report

json loadJson(const std::filesystem::path& p) {
  std::ifstream f(p);
  if (!f) return nullptr;
  std::string line, last;
  while (std::getline(f, line))
    if (!line.empty()) last = line;
  if (last.empty()) return nullptr;
  try {
    return json::parse(last);
  } catch (...) {
    return json{{"ok", false}, {"error", "unparseable: " + last.substr(0, 200)}};
  }
}

std::optional<double> getPath(const json& j, const std::string& path) {
  if (j.is_null() || !j.is_object()) return std::nullopt;
  if (j.contains("ok") && j["ok"].is_boolean() && !j["ok"].get<bool>()) return std::nullopt;
  const json* cur = &j;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (!cur->is_object() || !cur->contains(part)) return std::nullopt;
    cur = &(*cur)[part];
  }
  if (!cur->is_number()) return std::nullopt;
  return cur->get<double>();
}

std::string fmtNum(std::optional<double> v, int prec) {
  if (!v) return "—";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, *v);
  return b;
}

std::string fmtAuto(std::optional<double> v) {
  if (!v) return "—";
  double a = std::fabs(*v);
  if (a >= 1 && *v == std::floor(*v)) return fmtNum(v, 0);
  return fmtNum(v, a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.1 ? 3 : 4);
}

json cmdReport(const Args& a) {
  namespace fs = std::filesystem;
  fs::path dir = a.need("dir");
  std::string out = a.need("out");
  json meta = loadJson(dir / "meta.json");
  json machine = loadJson(dir / "machine.json");
  std::function<json(const std::string&, const std::string&)> R;
  R = [&](const std::string& side, const std::string& name) -> json {
    if (name != "rss") return loadJson(dir / side / (name + ".json"));
    // Peak RSS per phase, in MiB, from the scenarios' probes.
    auto peak = [&](std::initializer_list<const char*> files) -> std::optional<double> {
      std::optional<double> m;
      for (auto* f : files)
        if (auto v = getPath(R(side, f), "server_peak_rss_kib")) m = std::max(m.value_or(0), *v / 1024.0);
      return m;
    };
    json j = json::object();
    auto put = [&](const char* k, std::optional<double> v) {
      if (v) j[k] = *v;
    };
    put("push_mono_mib", peak({"push_mono"}));
    put("push_chunked_mib", peak({"push_chunked"}));
    put("pull_mib", peak({"pull_1", "pull_4"}));
    put("storm_mib", peak({"small_images", "manifest_get_tag", "manifest_head_digest", "blob_head_present",
                           "blob_head_absent"}));
    if (auto v = getPath(loadJson(dir / side / "idle.json"), "rss_kib")) j["idle_mib"] = *v / 1024.0;
    return j.empty() ? json(nullptr) : j;
  };
  auto errOf = [&](const json& j) -> std::string {
    if (j.is_null()) return "not run";
    if (j.contains("ok") && j["ok"].is_boolean() && !j["ok"].get<bool>())
      return j.contains("error") ? j["error"].get<std::string>() : "failed";
    return "";
  };

  double limit_sha = getPath(machine, "sha256_mib_s").value_or(0);
  double limit_dd = getPath(machine, "dd_fsync_mib_s").value_or(0);
  double push_limit = (limit_sha > 0 && limit_dd > 0) ? std::min(limit_sha, limit_dd) : 0;

  std::ostringstream md;
  std::vector<std::string> failures;
  int met = 0, missed = 0, unknown = 0;

  struct Row {
    std::string label, file, key;
    int kind;  // 0 higher better, 1 lower better, 2 informational
    double factor;
    std::string target;
    bool push = false;
    bool absolute_rss = false;
  };
  auto row = [&](const Row& r) {
    json rj = R("registry", r.file), bj = R("berth", r.file);
    auto rv = getPath(rj, r.key), bv = getPath(bj, r.key);
    std::optional<double> ratio;
    if (rv && bv && *rv != 0) ratio = *bv / *rv;
    std::string metStr = "—";
    if (r.kind != 2) {
      std::optional<bool> ok;
      if (r.absolute_rss) {
        if (bv) ok = *bv < 64.0;
      } else if (ratio) {
        ok = r.kind == 0 ? *ratio >= r.factor : *ratio <= r.factor;
        if (r.push && push_limit > 0) *ok = *ok && *bv >= 0.7 * push_limit;
      }
      if (!ok) {
        metStr = "?";
        ++unknown;
      } else if (*ok) {
        metStr = "yes";
        ++met;
      } else {
        metStr = "**no**";
        ++missed;
      }
    }
    auto cell = [&](const json& j, std::optional<double> v) {
      if (v) return fmtAuto(v);
      std::string e = errOf(j);
      if (e == "not run") return std::string("not run");
      return e.empty() ? std::string("—") : std::string("failed¹");
    };
    for (auto* side : {&rj, &bj}) {
      std::string e = errOf(*side);
      if (!e.empty() && e != "not run") {
        std::string f = std::string(side == &rj ? "registry:2" : "berth") + " / " + r.file + ": " + e;
        if (std::find(failures.begin(), failures.end(), f) == failures.end()) failures.push_back(f);
      }
    }
    md << "| " << r.label << " | " << cell(rj, rv) << " | " << cell(bj, bv) << " | "
       << (ratio ? fmtNum(ratio, 2) + "×" : "—") << " | " << r.target << " | " << metStr << " |\n";
  };

  bool quick = meta.is_object() && meta.value("quick", false);
  auto sizeLabel = [&]() {
    if (!meta.is_object()) return std::string("1 GiB");
    return meta.value("blob_size_label", std::string("1 GiB"));
  };
  std::string blob = sizeLabel();
  auto mv = [&](const char* k, const std::string& def) {
    return meta.is_object() && meta.contains(k) ? meta[k].dump() : def;
  };

  md << "# Benchmarks: Berth vs registry:2\n\n";
  md << "Generated by `bench/run.sh`" << (quick ? " in **quick mode** (BENCH_QUICK=1: reduced sizes; not the reference numbers)" : "")
     << ". Both servers ran on the same machine, one after the other, driven by `bench/berth_bench` over loopback; "
        "see `bench/README.md` for what each scenario does.\n\n";
  if (meta.is_object()) {
    md << "- Date: " << meta.value("date", std::string("?")) << "\n";
    md << "- Berth: " << meta.value("berth_version", std::string("?")) << "; registry:2: "
       << meta.value("registry_version", std::string("?")) << "\n";
    md << "- Sizes: blob " << blob << ", chunk " << meta.value("chunk_label", std::string("?")) << ", small images "
       << mv("small_images", "?") << " (16 workers), request load " << mv("load_seconds", "?") << " s × "
       << mv("load_conns", "?") << " connections, " << mv("tags", "?") << " tags, " << mv("repos", "?")
       << " repositories\n";
  }
  md << "\n## Machine limits (measured in the same run)\n\n";
  md << "| limit | value |\n| --- | --- |\n";
  md << "| CPU | " << (machine.is_object() ? machine.value("cpu", std::string("?")) : "?") << ", "
     << (machine.is_object() ? machine.value("cores", 0) : 0) << " cores |\n";
  md << "| SHA-256, one core (`openssl speed -evp sha256`, 16 KiB blocks) | " << fmtAuto(getPath(machine, "sha256_mib_s"))
     << " MiB/s |\n";
  md << "| Disk write, fresh 1 GiB file (`dd bs=1M conv=fsync`) | " << fmtAuto(getPath(machine, "dd_fsync_mib_s"))
     << " MiB/s |\n";
  md << "| Loopback TCP, one connection (`berth_bench loopback`) | " << fmtAuto(getPath(machine, "loopback_mib_s"))
     << " MiB/s |\n";
  md << "| Push limit = min(SHA-256 one core, disk) | " << (push_limit > 0 ? fmtAuto(push_limit) : "—")
     << " MiB/s (70% = " << (push_limit > 0 ? fmtAuto(0.7 * push_limit) : "—") << ") |\n";

  md << "\n## Results\n\n";
  md << "Ratio is berth / registry:2. Throughput: higher is better; latency, CPU and memory: lower is better.\n\n";
  const std::string hdr = "| scenario | registry:2 | berth | ratio | target | met? |\n| --- | ---: | ---: | ---: | --- | --- |\n";
  std::string pl = push_limit > 0 ? fmtAuto(0.7 * push_limit) : "?";

  md << "### Large blobs (" << blob << ")\n\n" << hdr;
  row({"Push monolithic (POST + one PUT), MiB/s", "push_mono", "mib_s", 0, 2.5,
       "≥ 2.5× and ≥ " + pl + " MiB/s (70% of limit)", true});
  row({"Push chunked (POST, PATCH × n, PUT), MiB/s", "push_chunked", "mib_s", 0, 2.5,
       "≥ 2.5× and ≥ " + pl + " MiB/s (70% of limit)", true});
  row({"Push monolithic, server CPU-s/GiB", "push_mono", "server_cpu_s_per_gib", 2, 0, "—"});
  row({"Push chunked, server CPU-s/GiB", "push_chunked", "server_cpu_s_per_gib", 2, 0, "—"});
  row({"Pull, 1 client, MiB/s", "pull_1", "mib_s", 0, 1.0, "≥ 1×"});
  row({"Pull, 1 client, server CPU-s/GiB", "pull_1", "server_cpu_s_per_gib", 1, 0.5, "≤ 0.5×"});
  row({"Pull, 4 parallel clients (aggregate), MiB/s", "pull_4", "mib_s", 0, 1.0, "≥ 1×"});
  row({"Pull, 4 parallel, server CPU-s/GiB", "pull_4", "server_cpu_s_per_gib", 1, 0.5, "≤ 0.5×"});

  md << "\n### Small-image push storm\n\n" << hdr;
  row({"Images/s (3 × 4 KiB layers + config + manifest, 16 workers)", "small_images", "images_per_s", 0, 3.0, "≥ 3×"});
  row({"Requests/s during the storm", "small_images", "req_per_s", 2, 0, "—"});
  row({"Server CPU-s per 1,000 requests", "small_images", "server_cpu_s_per_1k_req", 2, 0, "—"});

  md << "\n### Request load (" << mv("load_conns", "64") << " connections)\n\n" << hdr;
  struct L {
    std::string label, file;
  };
  for (const L& l : {L{"Manifest GET by tag", "manifest_get_tag"}, L{"Manifest HEAD by digest", "manifest_head_digest"},
                     L{"Blob HEAD, present", "blob_head_present"}, L{"Blob HEAD, absent (404)", "blob_head_absent"}}) {
    row({l.label + ", req/s", l.file, "rps", 0, 5.0, "≥ 5×"});
    row({l.label + ", p50 ms", l.file, "p50_ms", 2, 0, "—"});
    row({l.label + ", p99 ms", l.file, "p99_ms", 1, 1.0, "≤ 1× (no worse)"});
    row({l.label + ", server CPU-s / 1k req", l.file, "server_cpu_s_per_1k_req", 2, 0, "—"});
  }

  md << "\n### Listing\n\n" << hdr;
  row({"Tags list, " + mv("tags", "10000") + " tags, full list p50 ms", "tags_list", "walk.p50_ms", 1, 0.5, "≤ 0.5×"});
  row({"Tags list, full list p99 ms", "tags_list", "walk.p99_ms", 2, 0, "—"});
  row({"Tags list, pages per full list", "tags_list", "pages_per_walk", 2, 0, "—"});
  row({"Catalog page (n=1000), " + mv("repos", "2000") + " repos, p50 ms", "catalog", "page.p50_ms", 1, 0.5, "≤ 0.5×"});
  row({"Catalog page p99 ms", "catalog", "page.p99_ms", 2, 0, "—"});
  row({"Catalog first page p50 ms", "catalog", "first_page.p50_ms", 2, 0, "—"});
  row({"Catalog later pages p50 ms", "catalog", "later_pages.p50_ms", 2, 0, "—"});
  row({"Catalog pages per full walk", "catalog", "pages_per_walk", 2, 0, "—"});

  md << "\n### Memory (peak RSS, MiB)\n\n" << hdr;
  row({"During " + blob + " monolithic upload", "rss", "push_mono_mib", 0, 0, "< 64 MiB", false, true});
  row({"During " + blob + " chunked upload", "rss", "push_chunked_mib", 0, 0, "< 64 MiB", false, true});
  row({"During " + blob + " pulls", "rss", "pull_mib", 2, 0, "—"});
  row({"During the request storm (small images + request load)", "rss", "storm_mib", 0, 0, "< 64 MiB", false, true});
  row({"Idle after start", "rss", "idle_mib", 2, 0, "—"});

  md << "\nTargets met: " << met << ", missed: " << missed << ", unknown: " << unknown << ".\n";

  // Observations drawn from the raw results.
  md << "\n## Notes\n\n";
  for (auto side : {std::string("registry"), std::string("berth")}) {
    std::string nm = side == "registry" ? "registry:2" : "berth";
    json tl = R(side, "tags_list"), cat = R(side, "catalog"), sr = R(side, "seed_repos"), st = R(side, "seed_tags");
    json tp = R(side, "tags_list_paged");
    if (errOf(tl).empty())
      md << "- " << nm << " tags list: " << tl.value("items", 0) << " tags in " << tl.value("pages_per_walk", 0)
         << " page(s) per full list (request without `n`; largest page " << tl.value("max_page_bytes", 0)
         << " bytes); " << (tl.value("sorted", false) ? "lexically sorted" : "**not** sorted") << ".\n";
    if (errOf(tp).empty())
      md << "- " << nm << " tags list with `n=" << tp.value("n", 0) << "`: " << tp.value("items", 0) << " tags in "
         << tp.value("pages_per_walk", 0) << " page(s)"
         << (tp.value("pages_per_walk", 0) <= 1 && tp.value("items", 0) > tp.value("n", 0) ? " (`n` ignored)" : "")
         << ".\n";
    if (errOf(cat).empty())
      md << "- " << nm << " catalog with n=" << cat.value("n", 1000) << ": " << cat.value("items", 0) << " repositories in "
         << cat.value("pages_per_walk", 0) << " pages per walk"
         << (cat.value("empty_last_page", false) ? " (the last page was empty: a `Link: rel=\"next\"` was sent with "
                                                   "nothing after it)"
                                                 : "")
         << ".\n";
    if (errOf(sr).empty())
      md << "- " << nm << " seeding " << sr.value("repos", 0) << " repositories took " << fmtAuto(getPath(sr, "seconds"))
         << " s (" << sr.value("blobs_mounted", 0) << " blobs cross-mounted).\n";
    if (errOf(st).empty())
      md << "- " << nm << " seeding " << st.value("tags", 0) << " tags took " << fmtAuto(getPath(st, "seconds")) << " s.\n";
  }
  md << "- Peak RSS is VmHWM from /proc/PID/status, reset through /proc/PID/clear_refs before each scenario, "
        "and VmRSS sampled every 10 ms; CPU is utime+stime from /proc/PID/stat around the measured part of each "
        "scenario (10 ms resolution). The load tool runs on the same 2 cores as the server.\n";
  md << "- registry:2 ran with its stock in-memory blob-descriptor cache and `log.level: error`, at which it still "
        "logs every 404 (absent blob HEAD) as an error line; Berth ran with `log.level: warn`, no access log.\n";
  md << "- Blob bodies are an 8 MiB pseudo-random pattern repeated (hashed by the client before the timed part); "
        "the page cache is warm for pulls.\n";
  if (!failures.empty()) {
    md << "\n¹ Failures:\n\n";
    for (auto& f : failures) md << "- " << f << "\n";
  }

  md << "\n<details><summary>Raw results (JSON)</summary>\n\n```\n";
  md << "machine " << (machine.is_null() ? "null" : machine.dump()) << "\n";
  for (auto side : {std::string("registry"), std::string("berth")}) {
    if (!fs::exists(dir / side)) continue;
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(dir / side))
      if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& p : files) {
      json j = loadJson(p);
      md << side << "/" << p.stem().string() << " " << (j.is_null() ? "null" : j.dump()) << "\n";
    }
  }
  md << "```\n\n</details>\n";

  std::ofstream f(out);
  f << md.str();
  if (!f) fail("cannot write " + out);
  return {{"report", out}, {"met", met}, {"missed", missed}, {"unknown", unknown}};
}

// ---------------------------------------------------------------- main

void usage() {
  std::cerr << R"(usage: berth_bench COMMAND [--key value ...]
  push          --target H:P [--repo R] [--size 1GiB] [--mode mono|chunked|post] [--chunk 64MiB] [--seed N] [--pid P]
  pull          --target H:P [--repo R] --digest D [--size N] [--parallel 1] [--verify 1] [--pid P]
  small-images  --target H:P [--repo R] [--count 500] [--workers 16] [--layers 3] [--layer-size 4KiB] [--pid P]
  manifest-load --target H:P [--repo R] [--method GET|HEAD] [--by tag|digest] [--conns 64] [--seconds 10] [--warmup 1] [--pid P]
  blob-head     --target H:P [--repo R] [--present 1|0] [--conns 64] [--seconds 10] [--pid P]
  seed-tags     --target H:P [--repo R] [--count 10000] [--workers 16]
  tags-list     --target H:P [--repo R] [--iterations 20] [--seconds 60] [--n N] [--expect-min K] [--pid P]
  seed-repos    --target H:P [--prefix docker-local/bench/cat/r] [--count 2000] [--workers 16]
  catalog       --target H:P [--n 1000] [--iterations 20] [--seconds 60] [--expect-min K] [--pid P]
  loopback      [--size 4GiB]           loopback TCP throughput of this machine
  free-port                             prints a free 127.0.0.1 port
  wait          --target H:P [--timeout 30]
  report        --dir RESULTS --out docs/benchmarks.md
Common: --max-seconds S (watchdog, default 900), --media oci|docker (manifest type, default oci).
Targets must be loopback addresses. Each command prints one JSON line.
)";
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    usage();
    return 2;
  }
  std::string cmd = argv[1];
  static const std::map<std::string, std::function<json(const Args&)>> cmds = {
      {"push", cmdPush},           {"pull", cmdPull},         {"small-images", cmdSmallImages},
      {"manifest-load", cmdManifestLoad}, {"blob-head", cmdBlobHead}, {"seed-tags", cmdSeedTags},
      {"tags-list", cmdTagsList},  {"seed-repos", cmdSeedRepos}, {"catalog", cmdCatalog},
      {"loopback", cmdLoopback},   {"free-port", cmdFreePort}, {"wait", cmdWait},
      {"report", cmdReport}};
  auto it = cmds.find(cmd);
  if (it == cmds.end()) {
    usage();
    return 2;
  }
  json out;
  int rc = 0;
  try {
    Args args(argc, argv, 2);
    double max_secs = args.dbl("max-seconds", 900);
    std::thread([max_secs, cmd] {
      std::this_thread::sleep_for(std::chrono::duration<double>(max_secs));
      json j = {{"scenario", cmd}, {"ok", false}, {"error", "watchdog: exceeded --max-seconds"}};
      std::cout << j.dump() << std::endl;
      std::_Exit(3);
    }).detach();
    out = it->second(args);
    out["ok"] = true;
  } catch (const std::exception& e) {
    out = {{"scenario", cmd}, {"ok", false}, {"error", e.what()}};
    rc = 1;
  }
  std::cout << out.dump() << std::endl;
  return rc;
}
