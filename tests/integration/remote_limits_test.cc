// Remote repositories and blobs without end: an upstream that streams a
// chunked body for ever must not fill the disk. A fetch is held to the size
// the blob's manifest gave, else to max_blob_bytes; a body announced longer
// than allowed is refused before a byte is kept. Each time the partial file
// goes, the client gets an error and nothing is cached.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "integration/remote_support.h"
#include "integration/support/scripted_upstream.h"

namespace berth::it {
namespace {

using namespace std::chrono_literals;
using remoteit::Downstream;
using remoteit::eventually;

// What an endless answer managed to send before Berth hung up.
struct Flood {
  std::atomic<uint64_t> sent{0};
  std::atomic<bool> over{false};  // the handler returned (Berth closed the connection, or the bound)
};

// A chunked blob body: `prefix`, then 64 KiB chunks of zeros without end --
// up to `bound`, so that a test that fails still ends.
Handler endless(std::string prefix, std::string digest, Flood& flood, uint64_t bound = 512ull << 20) {
  return [prefix = std::move(prefix), digest = std::move(digest), &flood, bound](ServerExchange& ex) {
    Headers h{{"Content-Type", "application/octet-stream"},
              {"Docker-Content-Digest", digest},
              {"Transfer-Encoding", "chunked"}};
    struct Over {
      Flood& f;
      ~Over() { f.over = true; }
    } over{flood};
    if (!ex.writeHead(200, h) || ex.request().method == "HEAD") return;
    auto chunk = [&](std::string_view bytes) {
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", bytes.size());
      bool ok = ex.write(size_line) && ex.write(bytes) && ex.write("\r\n");
      if (ok) flood.sent += bytes.size();
      return ok;
    };
    if (!prefix.empty() && !chunk(prefix)) return;
    const std::string zeros(64 * 1024, '\0');
    while (flood.sent < bound)
      if (!chunk(zeros)) return;
  };
}

std::vector<std::string> stored(Downstream& berth, const std::string& dir) {
  return filesUnder(berth.daemon().storageRoot() + "/" + dir);
}

bool blobStored(Downstream& berth, const std::string& digest) {
  std::string hex = digest.substr(digest.find(':') + 1);
  for (const auto& f : stored(berth, "blobs"))
    if (f.find(hex) != std::string::npos) return true;
  return false;
}

TEST(RemoteLimits, AnEndlessBlobStopsAtMaxBlobBytes) {
  ScriptedUpstream up;
  Blob blob = Blob::random(1000);  // the digest asked for; the upstream sends zeros without end
  Flood flood;
  up.on("GET", "/v2/app/blobs/" + blob.digest, endless({}, blob.digest, flood));
  Downstream berth(up.url(), "max_blob_bytes: 4194304");
  Response r = berth.image("app").getBlob(blob.digest);
  EXPECT_TRUE(isApiError(r, 503, "UNAVAILABLE")) << r.describe();
  EXPECT_NE(r.body.find(up.hostPort()), std::string::npos) << r.body;
  // Berth hung up: the upstream got no further than the cap and what the
  // sockets between them hold.
  EXPECT_TRUE(eventually([&] { return flood.over.load(); }));
  EXPECT_LT(flood.sent.load(), uint64_t(64) << 20);
  EXPECT_TRUE(stored(berth, "uploads").empty()) << "the partial file is removed";
  EXPECT_FALSE(blobStored(berth, blob.digest));
  EXPECT_NE(berth.daemon().log().find("sent more than the 4194304 bytes expected"), std::string::npos);
  // Nothing was cached: a corrected upstream is asked again.
  up.clearRoutes();
  up.addBlob("app", blob.bytes);
  Response ok = berth.image("app").getBlob(blob.digest);
  EXPECT_EQ(ok.status, 200) << ok.describe();
  EXPECT_TRUE(ok.body == blob.bytes);
}

TEST(RemoteLimits, AChunkedBlobIsHeldToTheSizeItsManifestGave) {
  ScriptedUpstream up;
  Image img = makeImage(mt::kOciManifest, 1);
  const Blob& layer = img.layers[0];
  up.addImage("app", img, "v1");
  Flood flood;
  // The layer's bytes, then more: far below max_blob_bytes, but past the
  // size the manifest promised.
  up.on("GET", "/v2/app/blobs/" + layer.digest, endless(layer.bytes, layer.digest, flood));
  Downstream berth(up.url());
  ImageClient app = berth.image("app");
  ASSERT_EQ(app.getManifest("v1").status, 200);
  Response r = app.getBlob(layer.digest);
  EXPECT_TRUE(isApiError(r, 503, "UNAVAILABLE")) << r.describe();
  EXPECT_TRUE(eventually([&] { return flood.over.load(); }));
  EXPECT_LT(flood.sent.load(), uint64_t(64) << 20);
  EXPECT_TRUE(stored(berth, "uploads").empty());
  EXPECT_FALSE(blobStored(berth, layer.digest));
  EXPECT_NE(berth.daemon().log().find("sent more than the " + std::to_string(layer.bytes.size()) + " bytes expected"),
            std::string::npos);
  // The image's other blob, the config, comes through as usual.
  EXPECT_TRUE(app.getBlob(img.config.digest).body == img.config.bytes);
}

TEST(RemoteLimits, ABlobAnnouncedLongerThanAllowedIsRefusedBeforeAByteIsKept) {
  ScriptedUpstream up;
  Blob big = Blob::random(3 << 20);
  up.addBlob("app", big.bytes);
  Image img = makeImage(mt::kOciManifest, 1);
  up.addImage("app", img, "v1");
  // The manifest says one size, the upstream's Content-Length another.
  Blob longer = Blob::random(2000);
  up.on("GET", "/v2/app/blobs/" + img.layers[0].digest, scripted::status(200, longer.bytes));
  Downstream berth(up.url(), "max_blob_bytes: 2097152");
  ImageClient app = berth.image("app");
  Response r = app.getBlob(big.digest);
  EXPECT_TRUE(isApiError(r, 503, "UNAVAILABLE")) << r.describe();
  EXPECT_NE(r.body.find("max_blob_bytes"), std::string::npos) << r.body;
  ASSERT_EQ(app.getManifest("v1").status, 200);
  Response lying = app.getBlob(img.layers[0].digest);
  EXPECT_TRUE(isApiError(lying, 503, "UNAVAILABLE")) << lying.describe();
  EXPECT_NE(lying.body.find("its manifest says " + std::to_string(img.layers[0].bytes.size())), std::string::npos)
      << lying.body;
  EXPECT_TRUE(stored(berth, "uploads").empty());
  EXPECT_FALSE(blobStored(berth, big.digest));
  EXPECT_FALSE(blobStored(berth, img.layers[0].digest));
  // Within the limit, the same repository fetches as usual.
  EXPECT_TRUE(app.getBlob(img.config.digest).body == img.config.bytes);
}

}  // namespace
}  // namespace berth::it
