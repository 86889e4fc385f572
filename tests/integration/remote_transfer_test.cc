// Remote repositories and how bytes arrive from the upstream: a blob cut
// short, a chunked answer (no Content-Length), a slow upstream against
// timeout_seconds, concurrent requests for one manifest, a Basic-auth
// upstream. Against ScriptedUpstreams.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "integration/remote_support.h"
#include "integration/support/scripted_upstream.h"

namespace berth::it {
namespace {

using namespace std::chrono_literals;
using remoteit::Downstream;
using remoteit::expectPulls;

// A blob answered with Transfer-Encoding: chunked, as some registries and
// proxies in front of them do.
Handler chunked(std::string bytes, std::string digest) {
  return [=](ServerExchange& ex) {
    Headers h{{"Content-Type", "application/octet-stream"},
              {"Docker-Content-Digest", digest},
              {"Transfer-Encoding", "chunked"}};
    if (!ex.writeHead(200, h) || ex.request().method == "HEAD") return;
    for (std::size_t off = 0; off < bytes.size(); off += 64 * 1024) {
      std::size_t n = std::min<std::size_t>(64 * 1024, bytes.size() - off);
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
      if (!ex.write(size_line) || !ex.write(std::string_view(bytes).substr(off, n)) || !ex.write("\r\n")) return;
    }
    ex.write("0\r\n\r\n");
  };
}

bool blobStored(Downstream& berth, const std::string& digest) {
  std::string hex = digest.substr(digest.find(':') + 1);
  for (const auto& f : filesUnder(berth.daemon().storageRoot() + "/blobs"))
    if (f.find(hex) != std::string::npos) return true;
  return false;
}

TEST(RemoteTransfer, ABlobTheUpstreamCutsShortIsNotCachedAndTheNextRequestFetchesItAgain) {
  ScriptedUpstream up;
  Blob blob = Blob::random(2 << 20);
  up.addBlob("app", blob.bytes);
  const std::string path = "/v2/app/blobs/" + blob.digest;
  // The first answer pauses at 512 KiB (the client is streaming by then) and ends at 1 MiB.
  up.on("GET", path,
        scripted::sequence(
            {scripted::cutAfter(1 << 20, scripted::stallAfter(512 << 10, 300ms, up.content())), up.content()}));
  Downstream berth(up.url());
  {
    HttpClient c = berth.newClient();
    EXPECT_THROW(c.get("/v2/docker-remote/app/blobs/" + blob.digest), std::runtime_error);
  }
  EXPECT_FALSE(blobStored(berth, blob.digest));
  Response again = berth.image("app").getBlob(blob.digest);
  EXPECT_EQ(again.status, 200) << again.describe();
  EXPECT_TRUE(again.body == blob.bytes);
  EXPECT_EQ(up.count("GET", path), 2);
}

TEST(RemoteTransfer, AChunkedBlobIsVerifiedAndCached) {
  ScriptedUpstream up;
  Blob good = Blob::random(700 * 1024), real = Blob::random(300 * 1024);
  up.on("GET", "/v2/app/blobs/" + good.digest, chunked(good.bytes, good.digest));
  // Bytes that are not what the digest says: with no length announced, the
  // client gets nothing of them, only the error.
  up.on("GET", "/v2/app/blobs/" + real.digest, chunked(randomBytes(real.bytes.size()), real.digest));
  Downstream berth(up.url());
  ImageClient app = berth.image("app");
  Response r = app.getBlob(good.digest);
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(r.body == good.bytes);
  Response bad = app.getBlob(real.digest);
  EXPECT_TRUE(isApiError(bad, 503, "UNAVAILABLE")) << bad.describe();
  EXPECT_FALSE(blobStored(berth, real.digest));
  up.stop();
  EXPECT_TRUE(app.getBlob(good.digest).body == good.bytes);
}

TEST(RemoteTransfer, ASlowUpstreamTimesOutAsUnavailable) {
  ScriptedUpstream up;
  Image img = makeImage(mt::kOciManifest, 1);
  Blob big = Blob::random(1 << 20);
  img.layers.push_back(big);
  up.addImage("app", img, "v1");
  Downstream berth(up.url(), "timeout_seconds: 1");
  ImageClient app = berth.image("app");
  // The body stalls: the client's answer is cut, nothing is cached.
  up.on("GET", "/v2/app/blobs/" + big.digest, scripted::stallAfter(100 * 1024, 4s, up.content()));
  {
    HttpClient c = berth.newClient();
    EXPECT_THROW(c.get("/v2/docker-remote/app/blobs/" + big.digest), std::runtime_error);
  }
  EXPECT_FALSE(blobStored(berth, big.digest));
  // The answer stalls: unavailable, naming the upstream.
  up.on("GET", "/v2/app/manifests/v1", scripted::stall(4s, up.content()));
  Response m = app.getManifest("v1");
  EXPECT_TRUE(isApiError(m, 503, "UNAVAILABLE")) << m.describe();
  EXPECT_NE(m.body.find(up.hostPort()), std::string::npos) << m.body;
}

TEST(RemoteTransfer, StoppingDoesNotWaitForAStalledUpstream) {
  ScriptedUpstream up;
  auto big = std::make_shared<const GeneratedBlob>(4 << 20, 1);
  up.addGeneratedBlob("app", big);
  // The body stalls for an hour; the remote's timeout is the default 60 s.
  up.on("GET", "/v2/app/blobs/" + big->digest(), scripted::stallAfter(1 << 20, 1h, up.content()));
  Downstream berth(up.url());
  {
    Socket s(berth.daemon().host(), berth.daemon().port());
    ASSERT_TRUE(s.writeAll("GET /v2/docker-remote/app/blobs/" + big->digest() + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string head = readUntil(s, "\r\n\r\n");
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  }  // the client is gone: only the fetch is left, waiting on the upstream
  // Daemon::stop() gives up (throws) after 15 s.
  EXPECT_EQ(berth.daemon().stop(), 0);
}

TEST(RemoteTransfer, ConcurrentRequestsForOneManifestShareOneUpstreamRequest) {
  ScriptedUpstream up;
  Image img = makeImage(mt::kOciManifest, 1);
  up.addImage("app", img, "v1");
  up.on("GET", "/v2/app/manifests/v1", scripted::stall(500ms, up.content()));
  up.on("GET", "/v2/app/manifests/" + img.manifest.digest, scripted::stall(500ms, up.content()));
  Downstream berth(up.url());
  for (const std::string& ref : {std::string("v1"), img.manifest.digest}) {
    berth.image("app").deleteManifest(img.manifest.digest);  // cold for the second round too
    std::vector<Response> got(8);
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&, i] {
        HttpClient c = berth.newClient();
        got[i] = ImageClient(c, "/v2/docker-remote/app").getManifest(ref);
      });
    for (auto& t : threads) t.join();
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(got[i].status, 200) << ref << " client " << i << ": " << got[i].describe();
      EXPECT_EQ(got[i].body, img.manifest.bytes);
    }
    EXPECT_EQ(up.count("GET", "/v2/app/manifests/" + ref), 1) << ref;
  }
}

TEST(RemoteTransfer, ABasicAuthUpstreamWithAndWithoutCredentials) {
  ScriptedUpstream up;
  up.requireBasic("puller", "pull-pw");
  Image img = makeImage(mt::kDockerManifest, 2);
  up.addImage("app", img, "v1");
  Downstream berth(up.url(), "username: puller, password: pull-pw",
                   {remoteit::remoteYaml("anonymous", up.url())});
  expectPulls(berth.image("app"), img, "v1");
  // Once asked for Basic, the credentials go with every request.
  int challenged = 0;
  for (const auto& r : up.requests()) challenged += !r.headers.has("Authorization");
  EXPECT_EQ(challenged, 1);

  Response refused = berth.image("app", "anonymous").getManifest("v1");
  EXPECT_TRUE(isApiError(refused, 503, "UNAVAILABLE")) << refused.describe();
  EXPECT_NE(refused.body.find("credentials"), std::string::npos) << refused.body;
  EXPECT_EQ(berth.daemon().log().find("pull-pw"), std::string::npos);
}

}  // namespace
}  // namespace berth::it
