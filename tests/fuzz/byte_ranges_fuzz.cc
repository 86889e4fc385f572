// Range (blob GET) and Content-Range (upload PATCH/PUT) parsing
// (src/api/byte_ranges.h). The input is the header value; every value is
// tried against blobs of a few sizes, the extremes included.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/byte_ranges.h"
#include "fuzz_check.h"

using berth::api::ByteRange;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  for (uint64_t blob : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{100}, uint64_t{1} << 40, UINT64_MAX - 1,
                        UINT64_MAX}) {
    auto r = berth::api::parseRange(header, blob);
    if (!r) continue;
    FUZZ_CHECK(r->first <= r->last && r->last < blob);
    FUZZ_CHECK(r->length() >= 1 && r->length() <= blob);
  }
  if (auto cr = berth::api::parseContentRange(header)) {
    FUZZ_CHECK(cr->first <= cr->last);
    FUZZ_CHECK(cr->length() >= 1);  // no wrap-around at the top of the range
    // What was parsed prints back as the same range.
    auto again = berth::api::parseContentRange(std::to_string(cr->first) + "-" + std::to_string(cr->last));
    FUZZ_CHECK(again && *again == *cr);
  }
  return 0;
}
