// The one UTF-8 validator both sides share: the length of a valid sequence, or how many bytes
// of an invalid one a single U+FFFD replaces.

#include "actors/utf8.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace streamgate {
namespace {

int at0(std::string_view s) {
  return utf8_sequence(s, 0);
}

TEST(utf8_sequence, valid_sequences_give_their_length) {
  EXPECT_EQ(at0("a"), 1);
  EXPECT_EQ(at0("\xC3\xA9"), 2);          // é
  EXPECT_EQ(at0("\xE4\xBD\xA0"), 3);      // 你
  EXPECT_EQ(at0("\xF0\x9F\x98\x80"), 4);  // 😀
  EXPECT_EQ(at0("\xF4\x8F\xBF\xBF"), 4);  // U+10FFFF, the last code point
  EXPECT_EQ(utf8_sequence("ab\xC3\xA9", 2), 2);
}

TEST(utf8_sequence, invalid_sequences_give_their_longest_valid_prefix_negated) {
  EXPECT_EQ(at0("\x80"), -1);              // a continuation byte alone
  EXPECT_EQ(at0("\xFF"), -1);              // never in UTF-8
  EXPECT_EQ(at0("\xC0\xAF"), -1);          // overlong lead
  EXPECT_EQ(at0("\xE0\x80\x80"), -1);      // overlong: second byte out of range
  EXPECT_EQ(at0("\xED\xA0\x80"), -1);      // a surrogate
  EXPECT_EQ(at0("\xF4\x90\x80\x80"), -1);  // past U+10FFFF
  EXPECT_EQ(at0("\xE4\xBD"), -2);          // cut short
  EXPECT_EQ(at0("\xF0\x9F\x98"), -3);      // cut short
  EXPECT_EQ(at0("\xE4\xBDx"), -2);         // broken by an ASCII byte
}

}  // namespace
}  // namespace streamgate
