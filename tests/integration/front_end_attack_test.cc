// What an attack on the Asio front end found (issue 7), each kept as a
// regression test: bodies that buffer without end, upload waiters holding
// workers, request smuggling through Transfer-Encoding, header padding, a
// silent new connection held for the idle timeout.
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "integration/support/fixture.h"
#include "integration/support/raw_http.h"

namespace berth::it {
namespace {

using namespace std::chrono_literals;

class FrontEndAttackTest : public RegistryTest {
 protected:
  FrontEndAttackTest()
      : RegistryTest(serverWith("workers: 2, header_timeout_seconds: 2, idle_timeout_seconds: 60, "
                                "read_timeout_seconds: 4, min_body_bytes_per_second: 1024")) {}

  std::string uploadPath() {
    auto started = local_.startUpload();
    EXPECT_EQ(started.status, 202) << started.describe();
    return pathOf(started.header("Location"));
  }
};

// "1;" then a chunk extension that never ends: refused once it passes the
// chunk-line limit, instead of buffered for as long as the client sends.
TEST_F(FrontEndAttackTest, AChunkLineThatNeverEndsIsRefused) {
  Socket s(daemon_.host(), daemon_.port(), 10);
  ASSERT_TRUE(s.writeAll("PATCH " + uploadPath() + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;"));
  const std::string filler(16 * 1024, 'a');
  bool refused = false;
  for (int i = 0; i < 64 && !refused; ++i)  // up to 1 MiB
    refused = !s.writeAll(filler) || awaitClose(s, Clock::now(), 0.01).closed;
  Ending e = awaitClose(s, Clock::now(), kSlack);
  EXPECT_TRUE(refused || e.closed) << "1 MiB of chunk extension accepted";
  if (!e.bytes.empty()) {
    EXPECT_EQ(parseResponse(e.bytes).status, 400) << e.bytes;
  }
}

// Requests waiting for an upload that another request is using wait without
// a worker thread: with 2 workers and 6 waiters, others are still served.
TEST_F(FrontEndAttackTest, RequestsWaitingForABusyUploadHoldNoWorker) {
  const std::string location = uploadPath();
  Socket writer(daemon_.host(), daemon_.port(), 30);
  ASSERT_TRUE(writer.writeAll("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
  ASSERT_TRUE(writer.writeAll(std::string(2048, 'x')));  // the session is now in use
  std::this_thread::sleep_for(200ms);
  std::vector<std::unique_ptr<Socket>> waiters;
  for (int i = 0; i < 6; ++i) {
    waiters.push_back(std::make_unique<Socket>(daemon_.host(), daemon_.port(), 30));
    ASSERT_TRUE(waiters.back()->writeAll("GET " + location + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  std::this_thread::sleep_for(300ms);
  // Still writing at a live rate, the upload holds the session; the waiters
  // wait; an unrelated request is answered meanwhile.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(writer.writeAll(std::string(4096, 'x')));
    Socket other(daemon_.host(), daemon_.port(), 5);
    EXPECT_EQ(ask(other, kGetV2).status, 200) << "a bystander was not served while 6 requests waited";
    std::this_thread::sleep_for(200ms);
  }
  Ending w = awaitClose(*waiters.front(), Clock::now(), 0.01);
  EXPECT_TRUE(w.bytes.empty()) << "a waiter was answered while the upload was busy: " << w.bytes;
}

// RFC 9112 6.3: a Transfer-Encoding that does not end in chunked is refused;
// otherwise the body would run as the next request.
TEST_F(FrontEndAttackTest, ATransferEncodingOtherThanChunkedIsRefusedNotSmuggled) {
  Socket s(daemon_.host(), daemon_.port(), 10);
  ASSERT_TRUE(s.writeAll("PATCH " + uploadPath() + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
                         "GET /v2/_catalog HTTP/1.1\r\nHost: x\r\n\r\n"));
  Ending e = awaitClose(s, Clock::now(), kSlack);
  EXPECT_TRUE(e.closed);
  EXPECT_EQ(parseResponse(e.bytes).status, 400) << e.bytes;
  EXPECT_EQ(e.bytes.find("repositories"), std::string::npos) << "the smuggled request ran: " << e.bytes;
}

TEST_F(FrontEndAttackTest, AHeaderPaddedWithThousandsOfFieldsIsRefused) {
  std::string request = "GET /v2/ HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 5000; ++i) request += "a:\r\n";
  Socket s(daemon_.host(), daemon_.port(), 10);
  EXPECT_EQ(ask(s, request + "\r\n").status, 431);
}

TEST_F(FrontEndAttackTest, AnHttp11RequestWithoutHostIsRefused) {
  Socket s(daemon_.host(), daemon_.port(), 10);
  EXPECT_EQ(ask(s, "GET /v2/ HTTP/1.1\r\n\r\n").status, 400);
}

// A new connection that sends nothing gets the header timeout (2 s), not
// the idle timeout between requests (60 s here).
TEST_F(FrontEndAttackTest, ASilentNewConnectionIsClosedAfterTheHeaderTimeout) {
  Socket s(daemon_.host(), daemon_.port(), 30);
  Ending e = awaitClose(s, Clock::now(), 2 + kSlack);
  EXPECT_TRUE(e.closed) << "still open after " << e.seconds << " s";
}

}  // namespace
}  // namespace berth::it
