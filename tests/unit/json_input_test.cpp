#include "actors/json_input.hpp"

#include <gtest/gtest.h>

#include <string>

namespace streamgate {
namespace {

// `levels` arrays, one inside the other.
std::string nested_arrays(std::size_t levels) {
  return std::string(levels, '[') + std::string(levels, ']');
}

// `levels` objects, one inside the other: {"a":{"a":...{}}}.
std::string nested_objects(std::size_t levels) {
  std::string out;
  for (std::size_t i = 1; i < levels; ++i) out += R"({"a":)";
  out += "{}";
  out += std::string(levels - 1, '}');
  return out;
}

TEST(json_input, nesting_up_to_the_limit_is_parsed) {
  for (const auto& text : {nested_arrays(max_json_depth), nested_objects(max_json_depth)}) {
    auto in = parse_json_input(text);
    ASSERT_TRUE(in.ok()) << text;
    EXPECT_EQ(in.value.dump(), text);
  }
  EXPECT_TRUE(parse_json_input(R"({"a":[1,{"b":[true,null,"x",2.5]}]} )").ok());
  EXPECT_EQ(parse_json_input("17").value, 17);
}

TEST(json_input, one_level_more_is_refused_as_too_deep) {
  for (const auto& text : {nested_arrays(max_json_depth + 1), nested_objects(max_json_depth + 1),
                           // Mixed, and deep only in one branch after shallow siblings.
                           R"({"x":[1,2],"y":)" + nested_arrays(max_json_depth) + "}"}) {
    auto in = parse_json_input(text);
    EXPECT_EQ(in.outcome, json_input::status::too_deep) << text;
    EXPECT_TRUE(in.value.is_discarded());
  }
}

TEST(json_input, the_limit_is_a_parameter) {
  EXPECT_TRUE(parse_json_input(nested_arrays(3), 3).ok());
  EXPECT_EQ(parse_json_input(nested_arrays(4), 3).outcome, json_input::status::too_deep);
  EXPECT_EQ(parse_json_input("[]", 0).outcome, json_input::status::too_deep);
  EXPECT_TRUE(parse_json_input("\"scalar\"", 0).ok());
}

TEST(json_input, two_hundred_thousand_levels_stop_the_parser_at_the_limit) {
  // Nothing closes these brackets: a parser that read on would report a syntax error at the
  // end. Being refused as too deep shows it stopped where the limit was crossed.
  auto in = parse_json_input(std::string(200000, '['));
  EXPECT_EQ(in.outcome, json_input::status::too_deep);
  // The whole, well-formed value as a 400 KB request field, and objects as well.
  in = parse_json_input(R"({"model":"m","x":)" + nested_arrays(200000) + "}");
  EXPECT_EQ(in.outcome, json_input::status::too_deep);
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  EXPECT_EQ(parse_json_input(objects).outcome, json_input::status::too_deep);
}

TEST(json_input, malformed_text_is_a_syntax_error) {
  for (std::string text : {"", "{", "{\"a\":}", "[1,]", "{} {}", "[1] x", "nul", "\"\xff\""}) {
    auto in = parse_json_input(text);
    EXPECT_EQ(in.outcome, json_input::status::syntax_error) << text;
    EXPECT_TRUE(in.value.is_discarded());
  }
}

TEST(json_input, the_refusal_names_the_limit) {
  EXPECT_EQ(too_deep_message("the request body"),
            "the request body nests arrays or objects more than 64 levels deep");
}

}  // namespace
}  // namespace streamgate
