#include "api/byte_ranges.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace berth::api {
namespace {

std::optional<ByteRange> range(uint64_t first, uint64_t last) { return ByteRange{first, last}; }

TEST(RangeHeader, ServesTheThreeForms) {
  EXPECT_EQ(parseRange("bytes=0-9", 100), range(0, 9));
  EXPECT_EQ(parseRange("bytes=5-", 100), range(5, 99));
  EXPECT_EQ(parseRange("bytes=-3", 100), range(97, 99));
  EXPECT_EQ(parseRange("bytes=99-99", 100), range(99, 99));
  EXPECT_EQ(parseRange("bytes=0-0", 1), range(0, 0));
}

TEST(RangeHeader, ClampsToTheBlob) {
  EXPECT_EQ(parseRange("bytes=90-1000", 100), range(90, 99));
  EXPECT_EQ(parseRange("bytes=-500", 100), range(0, 99));
  EXPECT_EQ(parseRange("bytes=0-9999999999999999999", 100), range(0, 99));
  EXPECT_EQ(parseRange("bytes=-9999999999999999999", 100), range(0, 99));
}

TEST(RangeHeader, RefusesUnsatisfiable) {
  for (const char* h : {"bytes=100-", "bytes=100-200", "bytes=-0", "bytes=5-4"})
    EXPECT_EQ(parseRange(h, 100), std::nullopt) << h;
  EXPECT_EQ(parseRange("bytes=0-", 0), std::nullopt) << "empty blob";
  EXPECT_EQ(parseRange("bytes=-1", 0), std::nullopt) << "empty blob";
}

TEST(RangeHeader, RefusesMalformed) {
  for (const char* h : {"", "bytes=", "bytes=-", "bytes=5", "0-9", "bytes 0-9", "bytes=0-9,20-29", "bytes=a-9",
                        "bytes=0-9x", "bytes= 0-9", "bytes=0 -9", "bytes=+1-2", "bytes=1--2", "bytes=--1",
                        "BYTES=0-9", "bytes=18446744073709551615-", "bytes=00000000000000000000-"})
    EXPECT_EQ(parseRange(h, 100), std::nullopt) << h;
}

TEST(RangeHeader, HugeBlobsAndNumbers) {
  const uint64_t big = UINT64_MAX;
  EXPECT_EQ(parseRange("bytes=0-", big), range(0, big - 1));
  EXPECT_EQ(parseRange("bytes=-1", big), range(big - 1, big - 1));
  EXPECT_EQ(parseRange("bytes=9999999999999999999-", big), range(9999999999999999999u, big - 1));
}

TEST(ContentRange, ParsesBothForms) {
  EXPECT_EQ(parseContentRange("0-9"), range(0, 9));
  EXPECT_EQ(parseContentRange("bytes 10-19"), range(10, 19));
  EXPECT_EQ(parseContentRange("7-7"), range(7, 7));
  EXPECT_EQ(parseContentRange("0-9999999999999999999"), range(0, 9999999999999999999u));
  EXPECT_EQ(parseContentRange("0-9999999999999999999")->length(), 10000000000000000000u);
}

TEST(ContentRange, RefusesMalformed) {
  for (const char* h : {"", "-", "0", "0-", "-9", "9-0", "a-b", "0-9 ", " 0-9", "bytes=0-9", "bytes  0-9",
                        "0-9/10", "bytes 0-9/10", "0--9", "+0-9", "0-+9", "0-18446744073709551615",
                        "00000000000000000001-2"})
    EXPECT_EQ(parseContentRange(h), std::nullopt) << h;
}

}  // namespace
}  // namespace berth::api
