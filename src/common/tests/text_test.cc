#include "common/text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace iotjobs {
namespace {

// Encodes one code point as UTF-8 without going through the code under test.
std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

TEST(UriEncodeTest, KeepsUnreservedAndEncodesEverythingElseUpperCase) {
  EXPECT_EQ(UriEncode(""), "");
  const std::string unreserved =
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  EXPECT_EQ(UriEncode(unreserved), unreserved);
  EXPECT_EQ(UriEncode("a b"), "a%20b");
  EXPECT_EQ(UriEncode("a+b=c&d"), "a%2Bb%3Dc%26d");
  EXPECT_EQ(UriEncode("*!'()"), "%2A%21%27%28%29");
  EXPECT_EQ(UriEncode("%"), "%25");
  EXPECT_EQ(UriEncode("\xE1\x88\xB4"), "%E1%88%B4");  // U+1234, as in the SigV4 suite
  EXPECT_EQ(UriEncode(std::string("\0\xff", 2)), "%00%FF");
}

TEST(UriEncodeTest, SlashIsEncodedUnlessKept) {
  EXPECT_EQ(UriEncode("a/b c/"), "a%2Fb%20c%2F");
  EXPECT_EQ(UriEncode("a/b c/", /*keep_slash=*/true), "a/b%20c/");
}

TEST(UriDecodeTest, DecodesEscapesInEitherCase) {
  EXPECT_EQ(UriDecode("%41%2f%2F%e1%88%B4"), "A//\xE1\x88\xB4");
  EXPECT_EQ(UriDecode("plain-text"), "plain-text");
  EXPECT_EQ(UriDecode(""), "");
  EXPECT_EQ(UriDecode("%00"), std::string("\0", 1));
  EXPECT_EQ(UriDecode("x%41"), "xA");  // escape flush with the end
}

TEST(UriDecodeTest, PlusIsSpaceOnlyWhenAsked) {
  EXPECT_EQ(UriDecode("a+b%2B"), "a+b+");
  EXPECT_EQ(UriDecode("a+b%2B", /*plus_is_space=*/true), "a b+");
}

TEST(UriDecodeTest, RejectsMalformedEscapes) {
  for (const char* bad : {"%", "%4", "a%2", "%G1", "%1G", "%%41", "abc%"}) {
    EXPECT_EQ(UriDecode(bad), std::nullopt) << bad;
  }
}

TEST(UriDecodeTest, InvertsUriEncodeForEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(UriDecode(UriEncode(all)), all);
  EXPECT_EQ(UriDecode(UriEncode(all, true)), all);
}

// RFC 4648 §10 vectors, in the URL-safe alphabet without padding.
TEST(Base64UrlTest, Rfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64UrlEncode(plain), encoded) << plain;
    EXPECT_EQ(Base64UrlDecode(encoded), plain) << encoded;
  }
}

TEST(Base64UrlTest, UsesUrlSafeAlphabet) {
  // Standard base64 of FB FF BF is "+/+/"; the URL-safe form swaps in '-' and '_'.
  EXPECT_EQ(Base64UrlEncode("\xFB\xFF\xBF"), "-_-_");
  EXPECT_EQ(Base64UrlDecode("-_-_"), "\xFB\xFF\xBF");
  EXPECT_EQ(Base64UrlEncode("\xFB\xFF"), "-_8");
}

TEST(Base64UrlTest, RejectsStandardAlphabetPaddingAndImpossibleLengths) {
  EXPECT_EQ(Base64UrlDecode("+/+/"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm8="), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9v YmFy"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Z"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9vY"), std::nullopt);
}

TEST(Base64UrlTest, RoundTripsEveryByteAtEveryLength) {
  std::string all;
  for (int c = 255; c >= 0; --c) all.push_back(static_cast<char>(c));
  for (size_t n = 0; n <= all.size(); n += 1) {
    std::string s = all.substr(0, n);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(s)), s) << n;
  }
}

TEST(HexEncodeTest, LowerCaseTwoDigitsPerByte) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xa0\xff", 4)), "000fa0ff");
}

TEST(Utf8Test, AcceptsWellFormedSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("ascii only"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9"));          // U+00E9
  EXPECT_TRUE(IsValidUtf8("\xE1\x88\xB4"));      // U+1234
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));  // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF, the last code point
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));      // U+D7FF, just below the surrogates
  EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80"));      // U+E000, just above them
}

TEST(Utf8Test, RejectsMalformedSequences) {
  const std::vector<std::string> bad = {
      "\x80",              // lone continuation byte
      "a\xBF",             // continuation byte after ASCII
      "\xC3",              // truncated 2-byte sequence
      "\xE1\x88",          // truncated 3-byte sequence
      "\xF0\x9F\x98",      // truncated 4-byte sequence
      "\xC3\x28",          // bad continuation
      "\xC0\xAF",          // overlong '/'
      "\xC1\xBF",          // overlong
      "\xE0\x80\xAF",      // overlong '/'
      "\xF0\x80\x80\xAF",  // overlong '/'
      "\xF4\x90\x80\x80",  // U+110000, past the last code point
      "\xF5\x80\x80\x80",  // lead byte that can never appear
      "\xF8\x88\x80\x80\x80", "\xFF",
      // Surrogates are not scalar values; RFC 3629 §3 forbids encoding them (CESU-8).
      "\xED\xA0\x80",              // U+D800
      "\xED\xBF\xBF",              // U+DFFF
      "\xED\xA0\xBD\xED\xB8\x80",  // the surrogate pair for U+1F600
  };
  for (const auto& s : bad) EXPECT_FALSE(IsValidUtf8(s)) << HexEncode(s);
}

TEST(Utf8Test, LengthCountsCodePoints) {
  EXPECT_EQ(Utf8Length(""), 0u);
  EXPECT_EQ(Utf8Length("abc"), 3u);
  EXPECT_EQ(Utf8Length("\xC3\xA9t\xC3\xA9"), 3u);
  EXPECT_EQ(Utf8Length("\xE1\x88\xB4"), 1u);
  EXPECT_EQ(Utf8Length("\xF0\x9F\x98\x80x"), 2u);
}

TEST(PrintableUnicodeTest, AcceptsLettersMarksSymbolsAndSpaces) {
  EXPECT_TRUE(IsPrintableUnicode(""));
  EXPECT_TRUE(IsPrintableUnicode("Firmware update v1.2 (rollout: 10%)"));
  EXPECT_TRUE(IsPrintableUnicode("d\xC3\xA9j\xC3\xA0 vu"));
  EXPECT_TRUE(IsPrintableUnicode("\xE6\x97\xA5\xE6\x9C\xAC"));  // 日本
  EXPECT_TRUE(IsPrintableUnicode("\xF0\x9F\x98\x80"));          // U+1F600
  EXPECT_TRUE(IsPrintableUnicode("\xC2\xA0"));                  // U+00A0 NO-BREAK SPACE (Zs)
  EXPECT_TRUE(IsPrintableUnicode(Utf8(0x1D172)));               // Mn, right before a Cf range
  EXPECT_TRUE(IsPrintableUnicode(Utf8(0x1D17B)));               // Mn, right after it
  EXPECT_TRUE(IsPrintableUnicode(Utf8(0xF900)));  // first code point after BMP private use
  EXPECT_TRUE(IsPrintableUnicode(Utf8(0xA0)));
  EXPECT_TRUE(IsPrintableUnicode(Utf8(0x7E)));
}

TEST(PrintableUnicodeTest, RejectsInvalidUtf8) {
  EXPECT_FALSE(IsPrintableUnicode("\xC3"));
  EXPECT_FALSE(IsPrintableUnicode("ok\xFF"));
}

// Every code point of general category Cc, Cf and Co, as listed by Unicode 14.0 (generated with
// Python 3.11: [c for c in range(0x110000) if unicodedata.category(chr(c)) in ('Cc','Cf','Co')],
// folded into ranges). Each must be rejected wherever it sits in the text.
TEST(PrintableUnicodeTest, RejectsEveryControlFormatAndPrivateUseCodePoint) {
  const std::vector<std::pair<uint32_t, uint32_t>> category_c = {
      // Cc
      {0x0, 0x1F},
      {0x7F, 0x9F},
      // Cf
      {0xAD, 0xAD},
      {0x600, 0x605},
      {0x61C, 0x61C},
      {0x6DD, 0x6DD},
      {0x70F, 0x70F},
      {0x890, 0x891},
      {0x8E2, 0x8E2},
      {0x180E, 0x180E},
      {0x200B, 0x200F},
      {0x202A, 0x202E},
      {0x2060, 0x2064},
      {0x2066, 0x206F},
      {0xFEFF, 0xFEFF},
      {0xFFF9, 0xFFFB},
      {0x110BD, 0x110BD},
      {0x110CD, 0x110CD},
      {0x13430, 0x13438},
      {0x1BCA0, 0x1BCA3},
      {0x1D173, 0x1D17A},
      {0xE0001, 0xE0001},
      {0xE0020, 0xE007F},
      // Co
      {0xE000, 0xF8FF},
      {0xF0000, 0xFFFFD},
      {0x100000, 0x10FFFD},
  };
  for (const auto& [lo, hi] : category_c) {
    for (uint32_t cp = lo; cp <= hi; ++cp) {
      ASSERT_FALSE(IsPrintableUnicode("ok " + Utf8(cp) + " ok")) << std::hex << "U+" << cp;
    }
  }
}

// Issue 16, finding 7: messages cut user input with substr(), mid-character; the answer was invalid
// UTF-8 and boto3 raised UnicodeDecodeError instead of ClientError.
TEST(Utf8ExcerptTest, Finding7CutsOnCodePointBoundaries) {
  const std::string id = std::string(79, 'a') + "\xC3\xA9";  // 79 bytes, then é (2 bytes)
  EXPECT_EQ(Utf8Excerpt(id, 80), id);                        // 80 characters: all of it
  EXPECT_EQ(Utf8Excerpt(id, 79), std::string(79, 'a'));      // never half of é
  const std::string cron = "cron(\xD9\xA3 0 * * ? *)";       // ٣ (Arabic-Indic three)
  for (size_t n = 0; n <= Utf8Length(cron) + 1; ++n) {
    const std::string e = Utf8Excerpt(cron, n);
    EXPECT_TRUE(IsValidUtf8(e)) << n;
    EXPECT_EQ(Utf8Length(e), std::min(n, Utf8Length(cron))) << n;
    EXPECT_EQ(cron.rfind(e, 0), 0u) << n;  // a prefix of the input
  }
  const std::string four = "\xF0\x9F\x98\x80\xF0\x9F\x98\x80";  // two 4-byte emoji
  EXPECT_EQ(Utf8Excerpt(four, 1), "\xF0\x9F\x98\x80");
  EXPECT_EQ(Utf8Excerpt("", 5), "");
  EXPECT_EQ(Utf8Excerpt("abc", 0), "");
}

TEST(Utf8ExcerptTest, ReplacesMalformedBytesSoTheResultIsAlwaysValid) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(ToValidUtf8("ok"), "ok");
  EXPECT_EQ(ToValidUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(ToValidUtf8("a\xFF"
                        "b"),
            "a" + fffd + "b");
  EXPECT_EQ(ToValidUtf8("a\xC3"), "a" + fffd);                 // truncated sequence
  EXPECT_EQ(ToValidUtf8("\xC0\xAF"), fffd + fffd);             // overlong '/'
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), fffd + fffd + fffd);  // a UTF-16 surrogate
  EXPECT_EQ(ToValidUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(Utf8Excerpt("\xFF\xFF\xFF", 2), fffd + fffd);
  // Every byte string of length 1..2 comes out valid.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      const std::string in{static_cast<char>(a), static_cast<char>(b)};
      ASSERT_TRUE(IsValidUtf8(ToValidUtf8(in))) << a << " " << b;
      ASSERT_TRUE(IsValidUtf8(Utf8Excerpt(in, 1))) << a << " " << b;
    }
  }
}

TEST(AlnumOrTest, AllowsLettersDigitsAndTheGivenSet) {
  EXPECT_TRUE(IsAlnumOr("", ""));
  EXPECT_TRUE(IsAlnumOr("azAZ09", ""));
  EXPECT_TRUE(IsAlnumOr("job_1-a", "_-"));
  EXPECT_FALSE(IsAlnumOr("job_1-a", "-"));
  EXPECT_FALSE(IsAlnumOr("a b", "_-"));
  EXPECT_FALSE(IsAlnumOr("caf\xC3\xA9", "_-"));  // non-ASCII letters are not alnum here
  EXPECT_FALSE(IsAlnumOr(std::string("a\0b", 3), "_-"));
}

}  // namespace
}  // namespace iotjobs
