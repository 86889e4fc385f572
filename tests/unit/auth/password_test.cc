#include <gtest/gtest.h>

#include <map>
#include <set>

#include "auth/password.h"

namespace berth::auth {
namespace {

TEST(RandomPassword, SamplingIsUniformOverEveryByte) {
  // Rejection sampling: of the 256 byte values, the largest multiple of the
  // alphabet size is used and each letter gets exactly the same share.
  for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{56}, kPasswordAlphabet.size(), std::size_t{200},
                        std::size_t{256}}) {
    SCOPED_TRACE(n);
    std::map<std::size_t, int> hits;
    int rejected = 0;
    for (int b = 0; b < 256; ++b) {
      auto i = sampleIndex(static_cast<unsigned char>(b), n);
      if (!i) {
        ++rejected;
        continue;
      }
      ASSERT_LT(*i, n);
      ++hits[*i];
    }
    EXPECT_EQ(hits.size(), n) << "every letter is reachable";
    for (const auto& [i, count] : hits) EXPECT_EQ(count, static_cast<int>(256 / n)) << "letter " << i;
    EXPECT_EQ(rejected, static_cast<int>(256 % n));
  }
  EXPECT_EQ(sampleIndex(0, 0), std::nullopt);
  EXPECT_EQ(sampleIndex(0, 257), std::nullopt);
}

TEST(RandomPassword, EveryLetterOfTheAlphabetAppears) {
  ASSERT_EQ(kPasswordAlphabet.size(), 57u);
  std::set<char> seen;
  // 57 letters, 20,000 draws: the chance that a reachable letter never shows is below 1e-150.
  for (char c : randomPassword(20000)) {
    ASSERT_NE(kPasswordAlphabet.find(c), std::string_view::npos) << c;
    seen.insert(c);
  }
  EXPECT_EQ(seen.size(), kPasswordAlphabet.size());
  EXPECT_TRUE(seen.count('9')) << "the last letter, which `% 56` never drew";
  EXPECT_EQ(randomPassword(20).size(), 20u);
  EXPECT_NE(randomPassword(20), randomPassword(20));
  EXPECT_EQ(randomString(5, "a"), "aaaaa");
}

}  // namespace
}  // namespace berth::auth
