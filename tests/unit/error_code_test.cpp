// What every client sees of an error: the quoting of its own text.

#include "actors/error_code.hpp"

#include <gtest/gtest.h>

#include <string>

namespace streamgate {
namespace {

TEST(excerpt, short_text_is_quoted_whole) {
  EXPECT_EQ(excerpt("gpt-4o"), "gpt-4o");
  EXPECT_EQ(excerpt(std::string(max_excerpt_bytes, 'a')), std::string(max_excerpt_bytes, 'a'));
}

TEST(excerpt, long_text_is_cut_at_the_limit_with_an_ellipsis) {
  EXPECT_EQ(excerpt(std::string(100 * 1024, 'a')), std::string(max_excerpt_bytes, 'a') + "...");
}

TEST(excerpt, a_cut_never_splits_a_utf8_character) {
  // "é" is two bytes: with one ASCII byte first, a character straddles the limit.
  std::string text = "x";
  while (text.size() < 2 * max_excerpt_bytes) text += "\xc3\xa9";
  auto q = excerpt(text);
  EXPECT_EQ(q, text.substr(0, max_excerpt_bytes - 1) + "...");
}

}  // namespace
}  // namespace streamgate
