#include "repo/manifest_parser.h"

#include <nlohmann/json.hpp>

#include "berth/core/media_types.h"
#include "core/json_input.h"

namespace berth::repo {
namespace {

using nlohmann::json;

tl::unexpected<Error> invalid(std::string detail) {
  return fail(ErrorCode::ManifestInvalid, "manifest invalid", std::move(detail));
}

std::string stripParams(const std::string& ct) {
  auto semi = ct.find(';');
  std::string out = ct.substr(0, semi);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// A descriptor's digest, validated.
Result<Digest> descriptorDigest(const json& d, const std::string& where) {
  if (!d.is_object()) return invalid(where + " must be a descriptor object");
  if (!d.contains("digest") || !d["digest"].is_string()) return invalid(where + ".digest is missing");
  if (!d.contains("size") || !d["size"].is_number_integer() || d["size"].get<int64_t>() < 0)
    return invalid(where + ".size must be a non-negative integer");
  if (d.contains("mediaType") && !d["mediaType"].is_string()) return invalid(where + ".mediaType must be a string");
  auto dg = Digest::parse(d["digest"].get<std::string>());
  if (!dg) return invalid(where + ".digest: " + dg.error().message);
  return *dg;
}

std::string decideMediaType(const std::string& content_type, const json& doc) {
  std::string field = doc.contains("mediaType") && doc["mediaType"].is_string() ? doc["mediaType"].get<std::string>() : "";
  std::string ct = stripParams(content_type);
  if (!field.empty()) return field;
  if (media::isSupportedManifest(ct) || ct == media::kDockerSchema1 || ct == media::kDockerSchema1Signed) return ct;
  // OCI allows omitting mediaType; infer from the shape.
  if (doc.contains("manifests")) return std::string(media::kOciIndex);
  if (doc.contains("config") || doc.contains("layers")) return std::string(media::kOciManifest);
  return {};
}

}  // namespace

Result<ParsedManifest> parseManifest(const std::string& content_type, const std::string& bytes) {
  auto parsed = json_input::parse(bytes, ErrorCode::ManifestInvalid);
  if (!parsed) return invalid(parsed.error().message);
  const json& doc = *parsed;
  if (!doc.is_object()) return invalid("manifest is not a JSON object");
  if (!doc.contains("schemaVersion") || !doc["schemaVersion"].is_number_integer())
    return invalid("schemaVersion is missing");
  ParsedManifest out;
  out.media_type = decideMediaType(content_type, doc);
  if (doc.contains("mediaType") && !doc["mediaType"].is_string()) return invalid("mediaType must be a string");
  const json& version = doc["schemaVersion"];
  if (version == 1 || out.media_type == media::kDockerSchema1 || out.media_type == media::kDockerSchema1Signed)
    return invalid("Docker schema 1 manifests are not supported; push schema 2 or OCI");
  if (version != 2) return invalid("schemaVersion must be 2");
  if (!media::isSupportedManifest(out.media_type))
    return invalid("unsupported manifest media type '" + out.media_type + "'");
  std::string ct = stripParams(content_type);
  if (media::isSupportedManifest(ct) && ct != out.media_type)
    return invalid("Content-Type " + ct + " does not match the manifest's mediaType " + out.media_type);

  if (media::isIndex(out.media_type)) {
    if (!doc.contains("manifests") || !doc["manifests"].is_array()) return invalid("manifests must be an array");
    std::size_t i = 0;
    for (const auto& m : doc["manifests"]) {
      auto d = descriptorDigest(m, "manifests[" + std::to_string(i++) + "]");
      if (!d) return tl::unexpected(d.error());
      out.manifests.push_back(*d);
    }
  } else {
    if (!doc.contains("config")) return invalid("config is missing");
    auto cfg = descriptorDigest(doc["config"], "config");
    if (!cfg) return tl::unexpected(cfg.error());
    out.blobs.push_back(*cfg);
    out.blob_sizes.push_back(doc["config"]["size"].get<uint64_t>());
    if (doc["config"].contains("mediaType")) out.artifact_type = doc["config"]["mediaType"].get<std::string>();
    if (!doc.contains("layers") || !doc["layers"].is_array()) return invalid("layers must be an array");
    std::size_t i = 0;
    for (const auto& l : doc["layers"]) {
      auto d = descriptorDigest(l, "layers[" + std::to_string(i++) + "]");
      if (!d) return tl::unexpected(d.error());
      // Foreign layers (with urls) live elsewhere and are never pushed.
      bool foreign = l.contains("urls") && l["urls"].is_array() && !l["urls"].empty();
      if (!foreign) {
        out.blobs.push_back(*d);
        out.blob_sizes.push_back(l["size"].get<uint64_t>());
        continue;
      }
      ForeignLayer f{*d, 0, {}};
      if (l.contains("size") && l["size"].is_number_unsigned()) f.size = l["size"].get<uint64_t>();
      for (const auto& u : l["urls"])
        if (u.is_string() && (u.get<std::string>().rfind("http://", 0) == 0 || u.get<std::string>().rfind("https://", 0) == 0))
          f.urls.push_back(u.get<std::string>());
      out.foreign.push_back(std::move(f));
    }
  }
  if (doc.contains("artifactType")) {
    if (!doc["artifactType"].is_string()) return invalid("artifactType must be a string");
    out.artifact_type = doc["artifactType"].get<std::string>();
  }
  if (doc.contains("subject")) {
    auto s = descriptorDigest(doc["subject"], "subject");
    if (!s) return tl::unexpected(s.error());
    out.subject = s->str();
  }
  if (doc.contains("annotations")) {
    // The image spec makes annotations a string-to-string map, and only a
    // flat map is ever re-serialized (for the referrers API).
    const json& a = doc["annotations"];
    if (!a.is_object()) return invalid("annotations must be an object");
    for (const auto& [key, value] : a.items())
      if (!value.is_string()) return invalid("annotations['" + key.substr(0, 128) + "'] must be a string");
    out.annotations = a.dump();
  }
  return out;
}

}  // namespace berth::repo
