// Manifest and config media types Berth understands.
#pragma once

#include <string_view>

namespace berth::media {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";

inline bool isIndex(std::string_view mt) { return mt == kOciIndex || mt == kDockerList; }
inline bool isImageManifest(std::string_view mt) { return mt == kOciManifest || mt == kDockerManifest; }
inline bool isSupportedManifest(std::string_view mt) { return isIndex(mt) || isImageManifest(mt); }

}  // namespace berth::media
