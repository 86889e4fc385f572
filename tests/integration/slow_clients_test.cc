// Slow, idle and greedy clients (issue 7): a header or body that trickles in,
// a client that stops reading, thousands of idle keep-alive connections, the
// connection limits and a graceful stop. None of them may keep anyone else
// from being served. Deadlines are checked with generous upper bounds only.
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <thread>

#include "integration/support/fixture.h"
#include "integration/support/raw_http.h"

namespace berth::it {
namespace {

using namespace std::chrono_literals;

// n keep-alive connections from `from`, each answered once and left open.
std::vector<std::unique_ptr<Socket>> openIdle(const Daemon& d, const std::string& from, int n) {
  std::vector<std::unique_ptr<Socket>> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(std::make_unique<Socket>(d.host(), d.port(), 10, SocketOptions{.bind_address = from}));
    EXPECT_EQ(ask(*out.back(), kGetV2).status, 200) << "idle connection " << i << " from " << from;
  }
  return out;
}

// The answer to one GET /v2/ on a fresh connection from `from`.
Response fromAddress(const Daemon& d, const std::string& from) {
  Socket s(d.host(), d.port(), 10, SocketOptions{.bind_address = from});
  s.writeAll("GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  return parseResponse(awaitClose(s, Clock::now(), 10).bytes);
}

// fromAddress until it is 200, for up to 3 s: a freed slot is seen only once
// the server has read the close.
Response servedSoon(const Daemon& d, const std::string& from) {
  Response r;
  for (auto t = Clock::now(); since(t) < 3; std::this_thread::sleep_for(100ms))
    if ((r = fromAddress(d, from)).status == 200) break;
  return r;
}

// The first log line naming `address` that is not an access log line.
std::string logLineNaming(const std::string& log, const std::string& address) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.find(address) != std::string::npos && line.find("access remote=") == std::string::npos) return line;
  return {};
}

class HeaderDeadlineTest : public RegistryTest {
 protected:
  HeaderDeadlineTest() : RegistryTest(serverWith("header_timeout_seconds: 2")) {}
};

// One header line every 0.5 s never completes the header: the connection is
// cut once header_timeout_seconds have passed, and others are served meanwhile.
TEST_F(HeaderDeadlineTest, ATricklingHeaderIsCutWhileOthersAreServed) {
  Socket trickler(daemon_.host(), daemon_.port(), 30);
  const auto start = Clock::now();
  int other_status = 0;
  bool still_trickling = false;
  Ending e = trickle(
      trickler, start, 2 + kSlack, 500ms,
      [](int i) { return i == 0 ? std::string("GET /v2/ HTTP/1.1\r\n") : "X-Trickle-" + std::to_string(i) + ": y\r\n"; },
      [&](int i) {
        if (i != 2) return;
        other_status = HttpClient(daemon_.host(), daemon_.port(), false).get("/v2/").status;
        still_trickling = !trickler.idleConnectionBroken();
      });
  EXPECT_EQ(other_status, 200);
  EXPECT_TRUE(still_trickling) << "the other client must be answered while the header still trickles";
  ASSERT_TRUE(e.closed) << "still open " << e.seconds << " s after the header began (header_timeout_seconds: 2)";
  EXPECT_GE(e.seconds, 1.5) << "cut before header_timeout_seconds";
  if (!e.bytes.empty()) {  // the best-effort answer
    Response r = parseResponse(e.bytes);
    EXPECT_EQ(r.status, 408) << e.bytes;
    if (r.headers.has("Content-Length") && r.body.size() == std::stoull(r.header("Content-Length"))) {
      EXPECT_FALSE(r.errorCode().empty()) << "a JSON error body: " << e.bytes;
    }
  }
}

class BodyRateTest : public RegistryTest {
 protected:
  BodyRateTest() : RegistryTest(serverWith("read_timeout_seconds: 2, min_body_bytes_per_second: 1024", "info")) {}
  static constexpr double kWindow = 2;
};

// 200 B/s against a minimum of 1024 B/s: the PATCH is cut, and the session
// resumes from what the server kept.
TEST_F(BodyRateTest, ABodySlowerThanTheMinimumRateIsCutAndTheUploadResumes) {
  const Blob blob = Blob::random(100000);
  auto started = local_.startUpload();
  ASSERT_EQ(started.status, 202) << started.describe();
  const std::string location = pathOf(started.header("Location"));
  Socket s(daemon_.host(), daemon_.port(), 30);
  ASSERT_TRUE(s.writeAll("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                         "Content-Length: 100000\r\n\r\n"));
  const auto start = Clock::now();
  std::size_t sent = 0;
  Ending e = trickle(s, start, kWindow + kSlack, 500ms, [&](int) {
    sent += 100;
    return blob.bytes.substr(sent - 100, 100);
  });
  ASSERT_TRUE(e.closed) << "a 200 B/s body still accepted after " << e.seconds << " s";
  EXPECT_NE(parseResponse(e.bytes).status / 100, 2) << e.bytes;
  // The cut request may still be winding down: a PATCH that races it is retried.
  Response patched;
  for (int attempt = 0; attempt < 10 && patched.status != 202; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(300ms);
    Response status = http_.get(location);
    ASSERT_EQ(status.status, 204) << status.describe();
    const std::string range = status.header("Range");
    ASSERT_TRUE(range.starts_with("0-")) << range;
    const uint64_t last = std::stoull(range.substr(2));
    for (uint64_t kept : last == 0 ? std::vector<uint64_t>{0, 1} : std::vector<uint64_t>{last + 1}) {  // "0-0": 0 or 1
      ASSERT_LE(kept, sent) << "the server kept more than was sent";
      if ((patched = local_.patchChunk(location, blob.bytes.substr(kept), kept)).status == 202) break;
    }
  }
  ASSERT_EQ(patched.status, 202) << patched.describe();
  Response done = local_.finishUpload(patched.header("Location"), blob.digest);
  ASSERT_EQ(done.status, 201) << done.describe();
  EXPECT_EQ(local_.getBlob(blob.digest).body, blob.bytes);
}

// About 50 KiB/s for 4 s is slow, but far above the minimum: it completes.
TEST_F(BodyRateTest, ASlowButLiveUploadCompletes) {
  const Blob blob = Blob::random(40 * 5120);
  std::size_t offset = 0;
  Request req;
  req.method = "POST";
  req.target = withQuery(local_.url() + "/blobs/uploads/", "digest=" + blob.digest);
  req.headers.add("Content-Type", "application/octet-stream");
  req.content_length = blob.bytes.size();
  req.source = [&](char* buf, std::size_t capacity) {
    if (offset == blob.bytes.size()) return std::size_t(0);
    if (offset > 0) std::this_thread::sleep_for(100ms);
    std::size_t n = std::min({capacity, std::size_t(5120), blob.bytes.size() - offset});
    std::memcpy(buf, blob.bytes.data() + offset, n);
    offset += n;
    return n;
  };
  Response r = http_.send(req);
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(local_.getBlob(blob.digest).body, blob.bytes);
}

// A client that asks for a large blob and reads nothing is cut once a window
// passes below the minimum rate; the log names it; others are served meanwhile.
TEST_F(BodyRateTest, AClientThatStopsReadingIsCutAndLogged) {
  const Blob big = Blob::random(64 << 20), small = Blob::random(1000);
  ASSERT_EQ(local_.pushBlob(big.bytes).status, 201);
  ASSERT_EQ(local_.pushBlob(small.bytes).status, 201);
  Socket reader(daemon_.host(), daemon_.port(), 10, {.bind_address = "127.0.0.3", .receive_buffer = 4096});
  ASSERT_TRUE(reader.writeAll("GET " + local_.url() + "/blobs/" + big.digest + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto start = Clock::now();
  std::this_thread::sleep_for(1s);
  HttpClient other(daemon_.host(), daemon_.port());
  EXPECT_EQ(other.get("/v2/").status, 200);
  EXPECT_EQ(ImageClient(other, local_.url()).getBlob(small.digest).body, small.bytes);
  // The reader cannot see the cut before it reads; the log can.
  std::string line;
  while (line.empty() && since(start) < kWindow + kSlack) {
    std::this_thread::sleep_for(100ms);
    line = logLineNaming(daemon_.log(), "127.0.0.3");
  }
  EXPECT_FALSE(line.empty()) << "no log line names 127.0.0.3 within " << kWindow + kSlack << " s";
  // Reading now drains what was in flight, then the end: far from the whole blob.
  Ending e = awaitClose(reader, Clock::now(), 20);
  EXPECT_TRUE(e.closed) << "got " << e.bytes.size() << " bytes and no end";
  EXPECT_LT(e.bytes.size(), big.bytes.size());
}

class CrowdTest : public RegistryTest {};

// The Threads: line of /proc/<pid>/status.
int threadsOf(pid_t pid) {
  std::istringstream in(readFile("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("Threads:")) return std::stoi(line.substr(8));
  return -1;
}

// 2,000 idle keep-alive connections (from 8 addresses, under the default
// per-client limit) hold no thread; every normal request is answered, and
// all of them stay open.
TEST_F(CrowdTest, TwoThousandIdleConnectionsDoNotStopNormalTraffic) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max < 4500) GTEST_SKIP() << "needs 4500 descriptors; the hard limit is " << lim.rlim_max;
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? 65536 : lim.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  std::vector<std::unique_ptr<Socket>> idle;
  int idle_ok = 0;
  try {
    for (int i = 0; i < 2000; ++i) {
      SocketOptions from{.bind_address = "127.0.1." + std::to_string(1 + i % 8)};
      idle.push_back(std::make_unique<Socket>(daemon_.host(), daemon_.port(), 10, from));
      idle_ok += ask(*idle.back(), kGetV2).status == 200;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "after " << idle.size() << " idle connections: " << e.what();
  }
  EXPECT_EQ(idle_ok, 2000);
  EXPECT_LT(threadsOf(daemon_.pid()), 200) << "a connection that waits holds no thread";
  int answered = 0;
  for (int i = 0; i < 200; ++i) {
    try {
      answered += HttpClient(daemon_.host(), daemon_.port(), false).get("/v2/").status == 200;
    } catch (const std::exception&) {
    }
  }
  EXPECT_EQ(answered, 200);
  const Blob blob = Blob::random(100000);
  EXPECT_EQ(local_.pushBlob(blob.bytes).status, 201);
  EXPECT_EQ(local_.getBlob(blob.digest).body, blob.bytes);
  int held = 0;
  for (auto& s : idle) held += !s->idleConnectionBroken();
  EXPECT_EQ(held, 2000) << "idle connections stay open until idle_timeout_seconds";
}

class PerClientLimitTest : public RegistryTest {
 protected:
  PerClientLimitTest() : RegistryTest(serverWith("max_connections_per_client: 5")) {}
};

TEST_F(PerClientLimitTest, TheSixthConnectionFromOneAddressIs503) {
  auto held = openIdle(daemon_, "127.0.0.1", 5);
  EXPECT_API_ERROR(fromAddress(daemon_, "127.0.0.1"), 503, "UNAVAILABLE");
  EXPECT_EQ(fromAddress(daemon_, "127.0.0.2").status, 200) << "another client is not limited";
  held.erase(held.begin());
  EXPECT_EQ(servedSoon(daemon_, "127.0.0.1").status, 200) << "a freed slot serves the client again";
}

class GlobalLimitTest : public RegistryTest {
 protected:
  GlobalLimitTest() : RegistryTest(serverWith("max_connections: 5")) {}
};

TEST_F(GlobalLimitTest, TheConnectionOverTheGlobalLimitIs503) {
  auto held = openIdle(daemon_, "127.0.0.1", 3);
  auto more = openIdle(daemon_, "127.0.0.2", 2);
  EXPECT_API_ERROR(fromAddress(daemon_, "127.0.0.3"), 503, "UNAVAILABLE");
  held.erase(held.begin());
  EXPECT_EQ(servedSoon(daemon_, "127.0.0.3").status, 200) << "a freed slot serves a client again";
}

class GracefulStopTest : public RegistryTest {};  // shutdown_grace_seconds: 5 (the test daemon's)

// SIGTERM closes idle keep-alive connections at once and lets a request in
// flight finish within the grace period, with its response; then exit 0.
TEST_F(GracefulStopTest, IdleConnectionsCloseAtOnceAndABusyRequestFinishes) {
  auto idle = openIdle(daemon_, "127.0.0.1", 3);
  auto started = local_.startUpload();
  ASSERT_EQ(started.status, 202) << started.describe();
  http_.close();
  const std::string body = randomBytes(60000);
  Socket busy(daemon_.host(), daemon_.port(), 30);
  ASSERT_TRUE(busy.writeAll("PATCH " + pathOf(started.header("Location")) + " HTTP/1.1\r\nHost: x\r\n"
                            "Content-Type: application/octet-stream\r\nContent-Length: 60000\r\n\r\n"));
  std::thread sender([&] {  // 30 KB/s: 2 s in all
    try {
      for (std::size_t off = 0; off < body.size() && busy.writeAll(body.substr(off, 3000)); off += 3000)
        std::this_thread::sleep_for(100ms);
    } catch (const std::exception&) {  // the server gave up on it: the checks below say so
    }
  });
  std::this_thread::sleep_for(500ms);
  const auto sigterm = Clock::now();
  int code = -1;
  std::thread stopper([&] {
    try {
      code = daemon_.stop();
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  });
  for (auto& s : idle) {
    Ending e = awaitClose(*s, sigterm, 2);
    EXPECT_TRUE(e.closed) << "an idle connection still open " << e.seconds << " s after SIGTERM";
  }
  sender.join();
  Response r = readOne(busy);
  EXPECT_EQ(r.status, 202) << "the busy request finishes within the grace period: " << r.describe();
  stopper.join();
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace berth::it
