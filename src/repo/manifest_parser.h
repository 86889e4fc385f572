// Parses and validates a pushed manifest: Docker schema 2, Docker manifest
// list, OCI image manifest, OCI index and OCI artifact manifests. Schema 1 is
// refused. Pure function: no storage access, unit-testable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "berth/core/digest.h"
#include "berth/core/error.h"

namespace berth::repo {

// A layer that lives elsewhere (a descriptor with `urls`; Windows base images).
struct ForeignLayer {
  Digest digest;
  uint64_t size = 0;
  std::vector<std::string> urls;  // http(s) URLs only
};

struct ParsedManifest {
  std::string media_type;
  std::vector<Digest> blobs;      // config and layers that must be present (foreign layers skipped)
  std::vector<uint64_t> blob_sizes;  // the size each of `blobs` has, as its descriptor says
  std::vector<Digest> manifests;  // an index's children
  std::string subject;            // subject digest string, or empty
  std::string artifact_type;      // artifactType, else config.mediaType
  std::string annotations;        // JSON object text or empty
  std::vector<ForeignLayer> foreign;  // layers with urls (not in blobs)
};

// content_type: the request's Content-Type (may be empty or generic).
// MANIFEST_INVALID with a detail that says what is wrong.
Result<ParsedManifest> parseManifest(const std::string& content_type, const std::string& bytes);

}  // namespace berth::repo
