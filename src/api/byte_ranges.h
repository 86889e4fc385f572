// Byte ranges in request headers, parsed without HTTP or storage so they can
// be unit-tested and fuzzed alone (tests/fuzz/byte_ranges_fuzz.cc):
//   Range          of a blob GET: "bytes=a-b", "bytes=a-", "bytes=-n" (one range only)
//   Content-Range  of an upload PATCH/PUT chunk: "a-b", or "bytes a-b" as some clients send
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace berth::api {

struct ByteRange {
  uint64_t first = 0, last = 0;  // inclusive, first <= last
  uint64_t length() const { return last - first + 1; }
  bool operator==(const ByteRange&) const = default;
};

// The part of a blob of `size` bytes that a Range header asks for, clamped to
// the blob. nullopt when malformed or not satisfiable (416).
std::optional<ByteRange> parseRange(std::string_view header, uint64_t size);

// The "<first>-<last>" of a chunk's Content-Range. nullopt when malformed or
// last < first. Whether it continues the upload is the caller's to check.
std::optional<ByteRange> parseContentRange(std::string_view header);

}  // namespace berth::api
