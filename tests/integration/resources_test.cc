// Resources that run out (issue 6): file descriptors, threads, and a stop
// whose grace period ends with requests still running. The daemon must
// refuse what it cannot serve with the spec's 503, never spin, never crash,
// and serve again once resources come back.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "integration/support/fixture.h"

namespace berth::it {
namespace {

namespace fs = std::filesystem;

std::size_t openDescriptors(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
  return n;
}

// User + system CPU seconds the process has used so far.
double cpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

void setLimit(pid_t pid, int resource, rlim_t soft) {
  rlimit old{};
  ASSERT_EQ(::prlimit(pid, static_cast<__rlimit_resource>(resource), nullptr, &old), 0);
  rlimit lim{soft, old.rlim_max};
  ASSERT_EQ(::prlimit(pid, static_cast<__rlimit_resource>(resource), &lim, nullptr), 0);
}

// What a connection got for "GET /v2/": its status, or 0 for no answer
// (closed, or nothing within the socket's timeout).
int statusOf(Socket& s) {
  std::string got;
  char buf[4096];
  try {
    while (got.find("\r\n\r\n") == std::string::npos) {
      std::size_t n = s.readSome(buf, sizeof buf);
      if (n == 0) break;
      got.append(buf, n);
    }
  } catch (const std::exception&) {
  }
  return got.starts_with("HTTP/1.1 ") ? std::stoi(got.substr(9, 3)) : 0;
}

class ResourcesTest : public RegistryTest {};

TEST_F(ResourcesTest, TheFileDescriptorLimitIsRaisedAtStart) {
  rlimit lim{};
  ASSERT_EQ(::prlimit(daemon_.pid(), RLIMIT_NOFILE, nullptr, &lim), 0);
  EXPECT_EQ(lim.rlim_cur, lim.rlim_max);
}

// Not under the sanitizers: their runtime needs descriptors of its own (UBSan
// checks memory through a pipe) and reports false errors once there are none.
#if !defined(__SANITIZE_ADDRESS__)
TEST_F(ResourcesTest, OutOfDescriptorsNewClientsAreRefusedWithoutSpinning) {
  ASSERT_EQ(http_.get("/v2/").status, 200);
  http_.close();
  const std::size_t base = openDescriptors(daemon_.pid());
  setLimit(daemon_.pid(), RLIMIT_NOFILE, base + 6);
  std::vector<std::unique_ptr<Socket>> clients;
  for (int i = 0; i < 24; ++i) {
    clients.push_back(std::make_unique<Socket>(daemon_.host(), daemon_.port(), 3));
    clients.back()->writeAll("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  int served = 0, refused = 0;
  for (auto& c : clients) {
    int status = statusOf(*c);
    if (status == 200) ++served;
    if (status == 503) ++refused;
  }
  EXPECT_GT(served, 0);
  EXPECT_GT(refused, 0) << "clients beyond the limit must be told 503";
  EXPECT_EQ(served + refused, 24) << "every client gets an answer, none hangs";
  // With every descriptor taken, the accept loop must idle, not spin.
  double before = cpuSeconds(daemon_.pid());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_LT(cpuSeconds(daemon_.pid()) - before, 0.5) << "the daemon is busy-looping";
  clients.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto r = HttpClient(daemon_.host(), daemon_.port()).get("/v2/");
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_NE(daemon_.log().find("out of file descriptors"), std::string::npos);
}

// Not under the sanitizers either: ASan's allocator aborts on a failed mmap.
// Each request in flight runs on a coroutine stack of its own, mapped when
// the request starts; with no address space left there is none to map.
TEST_F(ResourcesTest, WhenNoCoroutineStackCanBeMappedTheClientGets503AndTheDaemonLives) {
  ASSERT_EQ(http_.get("/v2/").status, 200);
  http_.close();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::ifstream status("/proc/" + std::to_string(daemon_.pid()) + "/status");
  std::string line;
  unsigned long long vm_kib = 0;
  while (std::getline(status, line))
    if (line.starts_with("VmSize:")) vm_kib = std::stoull(line.substr(7));
  ASSERT_GT(vm_kib, 0u);
  setLimit(daemon_.pid(), RLIMIT_AS, (vm_kib + 1024) * 1024);
  // Requests that wait for their bodies keep their stacks: each new one
  // needs a new stack, until none can be mapped.
  std::vector<std::unique_ptr<Socket>> clients;
  int refused = 0;
  for (int i = 0; i < 64 && refused == 0; ++i) {
    clients.push_back(std::make_unique<Socket>(daemon_.host(), daemon_.port(), 3));
    clients.back()->writeAll(
        "PUT /v2/docker-local/held/manifests/v1 HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1000\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    char buf[512];
    ssize_t n = ::recv(clients.back()->fd(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0 && std::string_view(buf, static_cast<std::size_t>(n)).find(" 503 ") != std::string_view::npos) ++refused;
  }
  EXPECT_GT(refused, 0);
  setLimit(daemon_.pid(), RLIMIT_AS, RLIM_INFINITY);
  clients.clear();
  EXPECT_EQ(::kill(daemon_.pid(), 0), 0) << "the daemon died";
  auto r = HttpClient(daemon_.host(), daemon_.port()).get("/v2/");
  EXPECT_EQ(r.status, 200) << r.describe();
}
#endif

// A request still running when the grace period ends is cut off, and the
// daemon exits 0 without touching what it has torn down; the upload stays
// resumable after a restart.
TEST_F(ResourcesTest, AStopWithARequestStillRunningExitsCleanly) {
  auto start = local_.startUpload();
  ASSERT_EQ(start.status, 202) << start.describe();
  std::string location = pathOf(start.header("Location"));
  Socket s(daemon_.host(), daemon_.port(), 30);
  ASSERT_TRUE(s.writeAll("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                         "Content-Length: 10000000\r\n\r\n" + std::string(100000, 'a')));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The trickle goes on during the grace period (5 s) and after it.
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    while (!done && s.writeAll(std::string(1000, 'a'))) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  });
  http_.close();
  auto t0 = std::chrono::steady_clock::now();
  int code = daemon_.stop();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  done = true;
  trickle.join();
  EXPECT_EQ(code, 0) << daemon_.log();
  EXPECT_LT(took, 5 + 4) << "grace 5 s plus a short forced stop";
  daemon_.start();
  http_.retarget(daemon_.host(), daemon_.port());
  auto status = http_.get(location);
  EXPECT_EQ(status.status, 204) << status.describe();
}

}  // namespace
}  // namespace berth::it
