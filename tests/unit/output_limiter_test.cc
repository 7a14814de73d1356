#include "core/output_limiter.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace isol8 {
namespace {

// Admits every piece and returns what was kept, concatenated.
std::string admit_all(OutputLimiter& limiter, const std::vector<std::string>& pieces) {
  std::string kept;
  for (const auto& p : pieces) kept.append(limiter.admit(p));
  return kept;
}

// True when `s` does not end in the middle of a UTF-8 sequence.
bool ends_on_character_boundary(const std::string& s) {
  // Walk back over continuation bytes to the lead byte and check the sequence is complete.
  size_t i = s.size();
  size_t continuation = 0;
  while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80 && continuation < 4) {
    --i;
    ++continuation;
  }
  if (i == 0) return continuation == 0;
  const auto lead = static_cast<unsigned char>(s[i - 1]);
  size_t need = 0;
  if (lead < 0x80) {
    return continuation == 0;
  } else if ((lead & 0xE0) == 0xC0) {
    need = 1;
  } else if ((lead & 0xF0) == 0xE0) {
    need = 2;
  } else if ((lead & 0xF8) == 0xF0) {
    need = 3;
  }
  return continuation == need;
}

TEST(OutputLimiter, UnderTheLimitEverythingPasses) {
  OutputLimiter limiter(100);
  EXPECT_EQ(limiter.admit("hello "), "hello ");
  EXPECT_EQ(limiter.admit("world"), "world");
  EXPECT_FALSE(limiter.truncated());
  EXPECT_EQ(limiter.total(), 11u);
}

TEST(OutputLimiter, ExactlyTheLimitIsNotTruncated) {
  OutputLimiter limiter(10);
  EXPECT_EQ(limiter.admit("0123456789"), "0123456789");
  EXPECT_FALSE(limiter.truncated());
  EXPECT_EQ(limiter.total(), 10u);
}

TEST(OutputLimiter, OneByteOverTheLimitTruncates) {
  OutputLimiter limiter(10);
  EXPECT_EQ(limiter.admit("0123456789"), "0123456789");
  EXPECT_EQ(limiter.admit("x"), "");
  EXPECT_TRUE(limiter.truncated());
  EXPECT_EQ(limiter.total(), 11u);
}

TEST(OutputLimiter, OverTheLimitKeepsThePrefix) {
  OutputLimiter limiter(10);
  EXPECT_EQ(limiter.admit("0123456789abcdef"), "0123456789");
  EXPECT_TRUE(limiter.truncated());
}

TEST(OutputLimiter, PrefixIsKeptAcrossPieces) {
  OutputLimiter limiter(10);
  EXPECT_EQ(admit_all(limiter, {"0123", "4567", "89ab", "cdef"}), "0123456789");
  EXPECT_TRUE(limiter.truncated());
}

TEST(OutputLimiter, TotalCountsEverythingIncludingWhatWasDropped) {
  OutputLimiter limiter(10);
  admit_all(limiter, {"12345678", "12345678", "12345"});
  EXPECT_EQ(limiter.total(), 21u);
  EXPECT_EQ(limiter.admit("more"), "");
  EXPECT_EQ(limiter.total(), 25u);
}

TEST(OutputLimiter, MarkerTextIsUpstreams) {
  OutputLimiter limiter(10);
  admit_all(limiter, {"12345678", "12345678", "12345"});
  EXPECT_EQ(limiter.marker(), "\n\n--- OUTPUT TRUNCATED (21 bytes, limit: 10) ---");
}

TEST(OutputLimiter, MarkerForTheDefaultLimit) {
  OutputLimiter limiter(1048576);
  const std::string big(1048576 + 5, 'x');
  EXPECT_EQ(limiter.admit(big).size(), 1048576u);
  EXPECT_EQ(limiter.marker(), "\n\n--- OUTPUT TRUNCATED (1048581 bytes, limit: 1048576) ---");
}

TEST(OutputLimiter, ZeroLimitKeepsNothing) {
  OutputLimiter limiter(0);
  EXPECT_EQ(limiter.admit("abc"), "");
  EXPECT_TRUE(limiter.truncated());
  EXPECT_EQ(limiter.total(), 3u);
}

TEST(OutputLimiter, EmptyPiecesDoNotTruncate) {
  OutputLimiter limiter(0);
  EXPECT_EQ(limiter.admit(""), "");
  EXPECT_FALSE(limiter.truncated());
}

TEST(OutputLimiter, NeverSplitsATwoByteCharacter) {
  // "é" is C3 A9; the limit falls between its bytes.
  OutputLimiter limiter(4);
  EXPECT_EQ(limiter.admit("abc\xC3\xA9z"), "abc");
  EXPECT_TRUE(limiter.truncated());
}

TEST(OutputLimiter, NeverSplitsAThreeByteCharacterAtEitherInnerByte) {
  // "€" is E2 82 AC.
  for (uint64_t limit : {3u, 4u}) {
    OutputLimiter limiter(limit);
    EXPECT_EQ(limiter.admit("ab\xE2\x82\xACz"), "ab") << "limit " << limit;
  }
}

TEST(OutputLimiter, NeverSplitsAFourByteCharacter) {
  // U+1F600 is F0 9F 98 80.
  for (uint64_t limit : {2u, 3u, 4u}) {
    OutputLimiter limiter(limit);
    EXPECT_EQ(limiter.admit("a\xF0\x9F\x98\x80"), "a") << "limit " << limit;
  }
}

TEST(OutputLimiter, KeepsACharacterThatEndsExactlyAtTheLimit) {
  OutputLimiter limiter(5);
  EXPECT_EQ(limiter.admit("ab\xE2\x82\xAC"
                          "cd"),
            "ab\xE2\x82\xAC");
}

TEST(OutputLimiter, CutInsideACharacterOfALaterPiece) {
  OutputLimiter limiter(6);
  EXPECT_EQ(limiter.admit("abcd"), "abcd");
  EXPECT_EQ(limiter.admit("e\xE2\x82\xAC"), "e");
  EXPECT_TRUE(limiter.truncated());
}

// Output arrives in pipe-sized pieces that can split a character. When the cut falls inside a
// character whose first bytes came in an earlier piece, those bytes must not be kept either.
TEST(OutputLimiter, NeverSplitsACharacterThatStraddlesTwoPieces) {
  OutputLimiter limiter(5);
  const std::string kept = admit_all(limiter, {"abc\xE2",
                                               "\x82\xAC"
                                               "def"});
  EXPECT_TRUE(limiter.truncated());
  EXPECT_TRUE(ends_on_character_boundary(kept))
      << "kept ends with a partial character, " << kept.size() << " bytes kept";
  EXPECT_EQ(kept, "abc");
}

// Bytes that are not UTF-8 (binary output) are not characters: the limiter must not discard the
// whole prefix looking for the start of one. A UTF-8 character is at most 4 bytes, so backing
// off can never cost more than 3 bytes.
TEST(OutputLimiter, BinaryOutputKeepsThePrefix) {
  OutputLimiter limiter(10);
  const std::string binary(32, '\x80');
  const std::string kept(limiter.admit(binary));
  EXPECT_TRUE(limiter.truncated());
  EXPECT_GE(kept.size(), 7u) << "kept " << kept.size() << " of the 10 allowed bytes";
}

TEST(OutputLimiter, NothingIsAdmittedAfterTruncation) {
  OutputLimiter limiter(5);
  EXPECT_EQ(limiter.admit("abcdefgh"), "abcde");
  EXPECT_EQ(limiter.admit("x"), "");
  EXPECT_EQ(limiter.admit(""), "");
  EXPECT_TRUE(limiter.truncated());
  EXPECT_EQ(limiter.total(), 9u);
}

}  // namespace
}  // namespace isol8
