#include "core/secret_masker.h"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace isol8 {
namespace {

using namespace std::string_literals;

// Feeds `pieces` one by one and returns everything the masker emitted, finish() included.
std::string run(const std::vector<std::string>& secrets, const std::vector<std::string>& pieces) {
  SecretMasker masker(secrets);
  std::string out;
  for (const auto& p : pieces) out += masker.feed(p);
  out += masker.finish();
  return out;
}

std::string mask(const std::vector<std::string>& secrets, const std::string& text) {
  return run(secrets, {text});
}

// ---------------------------------------------------------------------------------------------
// Whole input in one piece

TEST(SecretMasker, NoSecretsIsPassthrough) {
  SecretMasker masker({});
  EXPECT_EQ(masker.feed("hello secret world"), "hello secret world");
  EXPECT_EQ(masker.finish(), "");
}

TEST(SecretMasker, OnlyEmptySecretsIsPassthrough) {
  EXPECT_EQ(mask({"", ""}, "anything at all"), "anything at all");
}

TEST(SecretMasker, EmptySecretIsIgnoredNextToARealOne) {
  EXPECT_EQ(mask({"", "pw"}, "a pw b"), "a *** b");
}

TEST(SecretMasker, TextWithoutTheSecretIsUnchanged) {
  EXPECT_EQ(mask({"hunter2"}, "nothing to see here"), "nothing to see here");
}

TEST(SecretMasker, SingleSecretInTheMiddle) {
  EXPECT_EQ(mask({"hunter2"}, "my password is hunter2, ok"), "my password is ***, ok");
}

TEST(SecretMasker, SecretAtTheStart) { EXPECT_EQ(mask({"hunter2"}, "hunter2 rest"), "*** rest"); }

TEST(SecretMasker, SecretAtTheEnd) { EXPECT_EQ(mask({"hunter2"}, "pw=hunter2"), "pw=***"); }

TEST(SecretMasker, SecretIsTheWholeText) { EXPECT_EQ(mask({"hunter2"}, "hunter2"), "***"); }

TEST(SecretMasker, RepeatedSecret) { EXPECT_EQ(mask({"abc"}, "abc abc abcabc"), "*** *** ******"); }

TEST(SecretMasker, MultipleSecrets) {
  EXPECT_EQ(mask({"alpha", "beta", "gamma"}, "gamma, beta and alpha"), "***, *** and ***");
}

TEST(SecretMasker, NearMissIsNotMasked) {
  EXPECT_EQ(mask({"hunter2"}, "hunter hunter3 hunte"), "hunter hunter3 hunte");
}

TEST(SecretMasker, SelfOverlappingSecret) {
  // "aab" inside "aaab": the first 'a' cannot start a match, the second can.
  EXPECT_EQ(mask({"aab"}, "aaab"), "a***");
  // Occurrences at 0 and 2 overlap; overlapping occurrences are masked as one span, so that no
  // byte of either occurrence stays visible.
  EXPECT_EQ(mask({"abab"}, "ababab"), "***");
}

TEST(SecretMasker, LongerSecretWinsWhenBothStartAtTheSamePlace) {
  EXPECT_EQ(mask({"abc", "abcdef"}, "x abcdef y"), "x *** y");
  EXPECT_EQ(mask({"abcdef", "abc"}, "x abcdef y"), "x *** y");
  // The shorter one alone is still masked.
  EXPECT_EQ(mask({"abc", "abcdef"}, "x abcde y"), "x ***de y");
}

TEST(SecretMasker, ShorterSecretInsideALongerOneIsMaskedWithIt) {
  EXPECT_EQ(mask({"cd", "abcdef"}, "abcdef"), "***");
}

// Two secrets that overlap without sharing their start: "abc" and "bcdefg" in "abcdefg". The
// masker promises that the longer one is masked whole; masking the leftmost "abc" first leaves
// "defg", four of the six characters of the longer secret, in the output.
TEST(SecretMasker, OverlappingSecretsNeverLeaveTheLongerOnePartlyVisible) {
  const std::string out = mask({"abc", "bcdefg"}, "abcdefg");
  EXPECT_EQ(out.find("defg"), std::string::npos) << "output: " << out;
  EXPECT_TRUE(out == "a***" || out == "***") << "output: " << out;
}

TEST(SecretMasker, BinaryDataWithNulBytesPassesThrough) {
  const std::string data = "\0\x01\xff\0key\0\0"s;
  EXPECT_EQ(mask({"zzz"}, data), data);
}

TEST(SecretMasker, SecretInsideBinaryDataIsMasked) {
  EXPECT_EQ(mask({"key"}, "\0\x01key\0\xfe"s), "\0\x01***\0\xfe"s);
}

TEST(SecretMasker, SecretContainingNulBytes) {
  EXPECT_EQ(mask({"\0k\0"s}, "a\0k\0b\0"s), "a***b\0"s);
}

// ---------------------------------------------------------------------------------------------
// Streaming: what is emitted when

TEST(SecretMasker, EmitsTextThatCannotStartASecretImmediately) {
  SecretMasker masker({"secret"});
  EXPECT_EQ(masker.feed("hello world\n"), "hello world\n");
  EXPECT_EQ(masker.finish(), "");
}

TEST(SecretMasker, HoldsBackOnlyAPossiblePrefix) {
  SecretMasker masker({"secret"});
  EXPECT_EQ(masker.feed("value: sec"), "value: ");
  EXPECT_EQ(masker.feed("ret!"), "***!");
  EXPECT_EQ(masker.finish(), "");
}

TEST(SecretMasker, HeldBackPrefixIsReleasedWhenTheNextPieceBreaksIt) {
  SecretMasker masker({"secret"});
  EXPECT_EQ(masker.feed("a se"), "a ");
  EXPECT_EQ(masker.feed("ance"), "seance");
  EXPECT_EQ(masker.finish(), "");
}

TEST(SecretMasker, PartialPrefixThatNeverCompletesIsEmittedAtFinish) {
  SecretMasker masker({"secret"});
  EXPECT_EQ(masker.feed("ends with secre"), "ends with ");
  EXPECT_EQ(masker.finish(), "secre");
}

TEST(SecretMasker, FinishMasksAShorterSecretInsideAHeldBackPrefix) {
  SecretMasker masker({"abcdef", "abc"});
  EXPECT_EQ(masker.feed("x abcde"), "x ");
  EXPECT_EQ(masker.finish(), "***de");
}

TEST(SecretMasker, EmptyFeedsChangeNothing) {
  SecretMasker masker({"secret"});
  EXPECT_EQ(masker.feed(""), "");
  EXPECT_EQ(masker.feed("se"), "");
  EXPECT_EQ(masker.feed(""), "");
  EXPECT_EQ(masker.feed("cret"), "***");
  EXPECT_EQ(masker.finish(), "");
}

TEST(SecretMasker, FinishOnAFreshMaskerIsEmpty) {
  SecretMasker masker({"secret"});
  EXPECT_EQ(masker.finish(), "");
}

TEST(SecretMasker, SecretSplitByteByByte) {
  std::vector<std::string> pieces;
  for (char c : std::string("<<topsecret>>")) pieces.emplace_back(1, c);
  EXPECT_EQ(run({"topsecret"}, pieces), "<<***>>");
}

TEST(SecretMasker, SecretSplitAcrossTwoFeedsAtEveryPosition) {
  const std::string text = "before hunter2 after";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    EXPECT_EQ(run({"hunter2"}, {text.substr(0, cut), text.substr(cut)}), "before *** after")
        << "cut at " << cut;
  }
}

TEST(SecretMasker, SecretSplitAcrossThreeFeedsAtEveryPosition) {
  const std::string text = "x=hunter2;y=hunter2";
  for (size_t a = 0; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); ++b) {
      EXPECT_EQ(run({"hunter2"}, {text.substr(0, a), text.substr(a, b - a), text.substr(b)}),
                "x=***;y=***")
          << "cuts at " << a << " and " << b;
    }
  }
}

TEST(SecretMasker, OverlappingSecretsSplitAcrossTwoFeedsAtEveryPosition) {
  const std::string text = "[abcdef][abc][abcd]";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    EXPECT_EQ(run({"abc", "abcdef"}, {text.substr(0, cut), text.substr(cut)}), "[***][***][***d]")
        << "cut at " << cut;
  }
}

TEST(SecretMasker, SecretAtTheVeryEndOfTheStreamSplitAcrossFeeds) {
  for (size_t cut = 0; cut <= 7; ++cut) {
    const std::string s = "hunter2";
    EXPECT_EQ(run({"hunter2"}, {s.substr(0, cut), s.substr(cut)}), "***") << "cut at " << cut;
  }
}

TEST(SecretMasker, LargeInputWithManySecretsSplitIntoChunks) {
  std::string text;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    text += "line " + std::to_string(i) + " token=S3CR3T-VALUE\n";
    expected += "line " + std::to_string(i) + " token=***\n";
  }
  std::vector<std::string> pieces;
  for (size_t i = 0; i < text.size(); i += 4093) pieces.push_back(text.substr(i, 4093));
  EXPECT_EQ(run({"S3CR3T-VALUE"}, pieces), expected);
}

}  // namespace
}  // namespace isol8
