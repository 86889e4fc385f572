// parseManifest (src/repo/manifest_parser.h) over any bytes, under each
// Content-Type a client may send. Run with -max_len: the manifest parser does
// not bound JSON nesting yet and dump() of a ~1M-deep `annotations` overflows
// the stack (known; the JSON depth limit is being added separately).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "berth/core/media_types.h"
#include "fuzz_check.h"
#include "repo/manifest_parser.h"

namespace {

const char* const kContentTypes[] = {
    "",
    "application/json",
    "application/octet-stream",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
};

bool isDigestHex(const std::string& hex) {
  if (hex.size() != 64) return false;
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  for (const char* ct : kContentTypes) {
    auto m = berth::repo::parseManifest(ct, bytes);
    if (!m) {
      FUZZ_CHECK(m.error().code == berth::ErrorCode::ManifestInvalid);
      continue;
    }
    FUZZ_CHECK(berth::media::isSupportedManifest(m->media_type));
    for (const auto& d : m->blobs) FUZZ_CHECK(isDigestHex(d.hex()));
    for (const auto& d : m->manifests) FUZZ_CHECK(isDigestHex(d.hex()));
    FUZZ_CHECK(berth::media::isIndex(m->media_type) ? m->blobs.empty() : m->manifests.empty());
    FUZZ_CHECK(m->subject.empty() || (m->subject.starts_with("sha256:") && isDigestHex(m->subject.substr(7))));
    if (!m->annotations.empty()) {
      auto a = nlohmann::json::parse(m->annotations, nullptr, false);
      FUZZ_CHECK(!a.is_discarded() && a.is_object());
    }
  }
  return 0;
}
