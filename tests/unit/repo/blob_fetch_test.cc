// BlobFetch (a remote repository's fetch of one blob) when its body throws:
// the fetch must end as failed, so that readers who joined it get an error
// instead of waiting for ever (found by review: an exception escaped into the
// client's coroutine and left the fetch "starting" for good).
#include <gtest/gtest.h>

#include <stdexcept>

#include "berth/repo/call.h"
#include "http/client.h"
#include "repo/remote/blob_fetch.h"

namespace berth::repo::remote {
namespace {

Digest someDigest() {
  return *Digest::parse("sha256:" + std::string(64, 'a'));
}

BlobFetch::Deps noStorage() {
  // The fetches below fail before they touch the stores.
  return BlobFetch::Deps{"remote", "upstream.invalid", nullptr, nullptr, nullptr,
                         [](std::function<void()> task) { task(); }};
}

TEST(BlobFetch, AnExceptionInItsBodyFailsTheFetchAndWakesItsReaders) {
  auto fetch = std::make_shared<BlobFetch>(noStorage(), "library/alpine", someDigest());
  http::HttpClient client(http::ClientOptions{});
  ASSERT_TRUE(client.spawn([fetch](http::Suspender& self) {
    fetch->run(self, [](http::Suspender&) -> Result<std::unique_ptr<http::ClientResponse>> {
      throw std::runtime_error("out of something");
    });
  }));
  // A plain thread waits here; before the fix this never returned.
  auto started = fetch->waitStarted(Call{});
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(started.error().message.find("out of something"), std::string::npos) << "internals stay in the log";
  EXPECT_TRUE(fetch->finished());
}

TEST(BlobFetch, AbandonedBeforeItRanFailsItsReaders) {
  auto fetch = std::make_shared<BlobFetch>(noStorage(), "library/alpine", someDigest());
  fetch->abandon(Error{ErrorCode::Unavailable, "cannot start", ""});
  auto started = fetch->waitStarted(Call{});
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().message, "cannot start");
  EXPECT_TRUE(fetch->finished());
}

}  // namespace
}  // namespace berth::repo::remote
