// The per-token JSON string writer against nlohmann::json, which renders everything else.

#include "transports/openai/json_string.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <random>
#include <string>

namespace streamgate {
namespace {

using json = nlohmann::json;

std::string ours(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string theirs(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

TEST(json_string, escapes_like_nlohmann_json) {
  std::string every_ascii;
  for (int c = 0; c < 0x80; ++c) every_ascii += static_cast<char>(c);
  for (std::string s : {std::string{}, std::string("plain text"), std::string("quote \" back \\"),
                        std::string("tab\tnl\ncr\rbs\bff\f"), std::string("\0\x01\x1f\x7f", 4),
                        std::string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), every_ascii})
    EXPECT_EQ(ours(s), theirs(s)) << s;
}

TEST(json_string, random_valid_text_is_rendered_byte_for_byte_as_nlohmann_does) {
  std::mt19937 rng{7};
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    for (int n = rng() % 40; n > 0; --n) {
      char32_t cp;
      switch (rng() % 4) {
        case 0:
          cp = rng() % 0x80;
          break;
        case 1:
          cp = 0x80 + rng() % (0x800 - 0x80);
          break;
        case 2:
          cp = 0x800 + rng() % (0x10000 - 0x800);
          break;
        default:
          cp = 0x10000 + rng() % (0x110000 - 0x10000);
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';  // surrogates are not characters
      append_utf8(s, cp);
    }
    ASSERT_EQ(ours(s), theirs(s)) << round;
    ASSERT_EQ(json::parse(ours(s)).get<std::string>(), s) << round;
  }
}

TEST(json_string, decimals_are_appended_as_std_to_string_writes_them) {
  for (std::uint64_t n : {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{10}, std::uint64_t{999},
                          std::uint64_t{1} << 32, UINT64_MAX}) {
    std::string out = "x";
    append_decimal(out, n);
    EXPECT_EQ(out, "x" + std::to_string(n));
  }
}

TEST(json_string, invalid_utf8_becomes_replacement_characters_and_stays_valid_json) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(json::parse(ours("ok \xff")).get<std::string>(), "ok " + fffd);
  // A truncated sequence is one replacement, and what follows it is kept.
  EXPECT_EQ(json::parse(ours("a\xE2\x82z")).get<std::string>(), "a" + fffd + "z");
  EXPECT_EQ(json::parse(ours("\xC0\xAF")).get<std::string>(), fffd + fffd);  // overlong
  EXPECT_EQ(json::parse(ours("\xED\xA0\x80")).get<std::string>(),            // a surrogate
            fffd + fffd + fffd);
  EXPECT_EQ(json::parse(ours("\xF4\x90\x80\x80")).get<std::string>(),  // past U+10FFFF
            fffd + fffd + fffd + fffd);
  std::mt19937 rng{11};
  for (int round = 0; round < 2000; ++round) {
    std::string s(rng() % 30, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    auto rendered = ours(s);
    ASSERT_NO_THROW(json::parse(rendered)) << round;  // nlohmann's parser rejects bad UTF-8
  }
}

}  // namespace
}  // namespace streamgate
