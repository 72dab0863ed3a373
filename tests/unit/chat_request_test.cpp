#include "actors/error_code.hpp"
#include "actors/json_input.hpp"

#include <streamgate/chat_request.hpp>

#include <gtest/gtest.h>

namespace streamgate {
namespace {

request_error error_of(std::string_view body) {
  auto r = parse_chat_request(body);
  EXPECT_TRUE(std::holds_alternative<request_error>(r)) << body;
  return std::holds_alternative<request_error>(r) ? std::get<request_error>(r) : request_error{};
}

TEST(chat_request, parses_a_full_request) {
  auto r = parse_chat_request(
      R"({"model":"m","stream":true,"stream_options":{"include_usage":true},
          "messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello"}],
          "temperature":0.2,"max_tokens":10,"mock":{"tokens":5,"interval_ms":1}})");
  ASSERT_TRUE(std::holds_alternative<chat_request>(r));
  auto& req = std::get<chat_request>(r);
  EXPECT_EQ(req.model, "m");
  EXPECT_TRUE(req.stream);
  EXPECT_TRUE(req.include_usage);
  EXPECT_EQ(req.mock.tokens, 5u);
  EXPECT_EQ(req.mock.interval_ms, 1u);
  EXPECT_FALSE(req.mock.first_token_ms.has_value());
  EXPECT_EQ(last_user_text(req), "hello");
  EXPECT_GT(req.prompt_tokens, 0u);
}

TEST(chat_request, defaults_to_not_streaming) {
  auto r = parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(std::holds_alternative<chat_request>(r));
  EXPECT_FALSE(std::get<chat_request>(r).stream);
}

TEST(chat_request, accepts_multimodal_and_null_content) {
  auto r = parse_chat_request(
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]},
          {"role":"assistant","content":null}]})");
  EXPECT_TRUE(std::holds_alternative<chat_request>(r));
}

TEST(chat_request, rejects_malformed_json_as_invalid_json) {
  EXPECT_EQ(error_of("{").code, error_code::invalid_json);
  EXPECT_EQ(error_of("").code, error_code::invalid_json);
  EXPECT_EQ(error_of("\xff\xfe").code, error_code::invalid_json);
}

// nlohmann's parser stops at a NUL byte: without a check of its own, anything after one
// passed (issue 17).
TEST(chat_request, a_nul_byte_after_the_json_is_invalid_json) {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"x"}]})";
  ASSERT_TRUE(std::holds_alternative<chat_request>(parse_chat_request(body)));
  EXPECT_EQ(error_of(body + std::string(2, '\0')).code, error_code::invalid_json);
  EXPECT_EQ(error_of(body + std::string(1, '\0') + "garbage").code, error_code::invalid_json);
  EXPECT_EQ(error_of(body + " x").code, error_code::invalid_json);
  EXPECT_TRUE(std::holds_alternative<chat_request>(parse_chat_request(body + " \r\n\t")));
}

TEST(chat_request, a_model_name_over_the_limit_is_refused_without_echoing_it) {
  auto with_model = [](std::size_t n) {
    return R"({"model":")" + std::string(n, 'm') +
           R"(","messages":[{"role":"user","content":"x"}]})";
  };
  EXPECT_TRUE(
      std::holds_alternative<chat_request>(parse_chat_request(with_model(max_model_bytes))));
  auto e = error_of(with_model(100 * 1024));
  EXPECT_EQ(e.code, error_code::invalid_request);
  EXPECT_EQ(e.param, "model");
  EXPECT_LT(e.message.size(), 100u);
}

TEST(chat_request, an_unknown_mock_option_is_quoted_cut_short) {
  auto e = error_of(R"({"model":"m","messages":[{"role":"user","content":"x"}],"mock":{")" +
                    std::string(100 * 1024, 'k') + R"(":1}})");
  EXPECT_EQ(e.param.rfind("mock.", 0), 0u);
  EXPECT_LE(e.param.size(), 5 + max_excerpt_bytes + 3);
  EXPECT_LT(e.message.size(), max_excerpt_bytes + 64);
}

TEST(chat_request, names_the_offending_field) {
  EXPECT_EQ(error_of(R"({"messages":[]})").param, "model");
  EXPECT_EQ(error_of(R"({"model":"","messages":[]})").param, "model");
  EXPECT_EQ(error_of(R"({"model":"m"})").param, "messages");
  EXPECT_EQ(error_of(R"({"model":"m","messages":{}})").param, "messages");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[]})").param, "messages");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[1]})").param, "messages[0]");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"content":"x"}]})").param, "messages[0].role");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})").param,
            "messages[0].role");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"user","content":5}]})").param,
            "messages[0].content");
  const char* ok_messages = R"("messages":[{"role":"user","content":"x"}])";
  auto with = [&](const std::string& extra) {
    return std::string{R"({"model":"m",)"} + ok_messages + "," + extra + "}";
  };
  EXPECT_EQ(error_of(with(R"("stream":1)")).param, "stream");
  EXPECT_EQ(error_of(with(R"("stream_options":true)")).param, "stream_options");
  EXPECT_EQ(error_of(with(R"("stream_options":{"include_usage":"yes"})")).param,
            "stream_options.include_usage");
  EXPECT_EQ(error_of(with(R"("temperature":"hot")")).param, "temperature");
  EXPECT_EQ(error_of(with(R"("max_tokens":0)")).param, "max_tokens");
  EXPECT_EQ(error_of(with(R"("mock":{"tokens":-1})")).param, "mock.tokens");
  EXPECT_EQ(error_of(with(R"("mock":{"speed":3})")).param, "mock.speed");
  EXPECT_EQ(error_of(with(R"("mock":{"interval_ms":1e9})")).param, "mock.interval_ms");
}

TEST(chat_request, n_is_an_integer_from_1_to_128_and_kept_in_the_body) {
  auto ok = parse_chat_request(R"({"model":"m","n":2,"messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(std::holds_alternative<chat_request>(ok));
  EXPECT_EQ(std::get<chat_request>(ok).choices, 2u);
  EXPECT_EQ(std::get<chat_request>(ok).body["n"], 2);  // forwarded to providers unchanged
  auto plain = parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(std::get<chat_request>(plain).choices, 1u);
  auto max =
      parse_chat_request(R"({"model":"m","n":128,"messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(std::holds_alternative<chat_request>(max));
  EXPECT_EQ(std::get<chat_request>(max).choices, 128u);
  for (auto n : {"0", "129", "-1", "1.5", "\"2\"", "true", "1e9"}) {
    auto e = error_of(
        std::string{R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":)"} + n + "}");
    EXPECT_EQ(e.code, error_code::invalid_request) << n;
    EXPECT_EQ(e.param, "n") << n;
    EXPECT_EQ(e.message, "'n' must be an integer from 1 to 128") << n;
  }
}

TEST(chat_request, mock_shape_knobs_are_read_and_bounded) {
  auto r = parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":"x"}],
      "mock":{"reasoning_tokens":3,"tool_calls":2,"tool_fragments":7}})");
  ASSERT_TRUE(std::holds_alternative<chat_request>(r));
  auto& m = std::get<chat_request>(r).mock;
  EXPECT_EQ(m.reasoning_tokens, 3u);
  EXPECT_EQ(m.tool_calls, 2u);
  EXPECT_EQ(m.tool_fragments, 7u);
  auto with = [](const std::string& mock) {
    return R"({"model":"m","messages":[{"role":"user","content":"x"}],"mock":)" + mock + "}";
  };
  auto e = error_of(with(R"({"reasoning_tokens":100001})"));
  EXPECT_EQ(e.param, "mock.reasoning_tokens");
  EXPECT_EQ(e.message, "'mock.reasoning_tokens' must be an integer from 0 to 100000");
  EXPECT_EQ(error_of(with(R"({"tool_calls":65})")).param, "mock.tool_calls");
  EXPECT_EQ(error_of(with(R"({"tool_calls":"2"})")).param, "mock.tool_calls");
  EXPECT_EQ(error_of(with(R"({"tool_fragments":1001})")).param, "mock.tool_fragments");
  auto zero = error_of(with(R"({"tool_fragments":0})"));
  EXPECT_EQ(zero.param, "mock.tool_fragments");
  EXPECT_EQ(zero.message, "'mock.tool_fragments' must be an integer from 1 to 1000");
  EXPECT_TRUE(std::holds_alternative<chat_request>(
      parse_chat_request(with(R"({"tool_calls":0,"tool_fragments":1000})"))));
}

TEST(chat_request, tools_must_be_an_array_of_objects_and_tool_choice_a_string_or_object) {
  auto with = [](const std::string& extra) {
    return R"({"model":"m","messages":[{"role":"user","content":"x"}],)" + extra + "}";
  };
  EXPECT_EQ(error_of(with(R"("tools":{})")).param, "tools");
  EXPECT_EQ(error_of(with(R"("tools":[{"type":"function"},3])")).param, "tools[1]");
  EXPECT_EQ(error_of(with(R"("tool_choice":3)")).param, "tool_choice");
  EXPECT_TRUE(std::holds_alternative<chat_request>(parse_chat_request(with(
      R"("tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"auto")"))));
  EXPECT_TRUE(std::holds_alternative<chat_request>(parse_chat_request(
      with(R"("tools":null,"tool_choice":{"type":"function","function":{"name":"f"}})"))));
}

TEST(chat_request, every_refusal_is_invalid_request_with_a_message) {
  auto e = error_of(R"([])");
  EXPECT_EQ(e.code, error_code::invalid_request);
  EXPECT_FALSE(e.message.empty());
}

// A request whose unknown field nests `levels` arrays: the body itself is one level more.
std::string request_with_nesting(std::size_t levels) {
  return R"({"model":"m","messages":[{"role":"user","content":"x"}],"extra":)" +
         std::string(levels, '[') + std::string(levels, ']') + "}";
}

TEST(chat_request, nesting_is_bounded_before_a_deep_tree_exists) {
  // Providers copy and dump the body recursively: 200,000 levels (400 KB) overflowed the stack.
  auto e = error_of(request_with_nesting(200000));
  EXPECT_EQ(e.code, error_code::invalid_request);
  EXPECT_NE(e.message.find(std::to_string(max_json_depth)), std::string::npos) << e.message;
  EXPECT_EQ(error_of(request_with_nesting(max_json_depth)).code, error_code::invalid_request);
  // At the limit (the body's object and its field's arrays) the request stands.
  EXPECT_TRUE(std::holds_alternative<chat_request>(
      parse_chat_request(request_with_nesting(max_json_depth - 1))));
}

TEST(error_codes, map_to_http_statuses) {
  EXPECT_EQ(http_status_for(error_code::invalid_json), 400);
  EXPECT_EQ(http_status_for(error_code::model_not_found), 404);
  EXPECT_EQ(http_status_for(error_code::body_too_large), 413);
  EXPECT_EQ(http_status_for(error_code::quota_exhausted), 429);
  EXPECT_EQ(http_status_for(error_code::too_many_sessions), 503);
  EXPECT_EQ(http_status_for(error_code::upstream_first_byte_timeout), 504);
  EXPECT_EQ(http_status_for(error_code::upstream_interrupted), 502);
}

TEST(error_codes, only_provider_side_failures_fail_over) {
  EXPECT_TRUE(is_retryable_before_first_token(error_code::upstream_server_error));
  EXPECT_TRUE(is_retryable_before_first_token(error_code::upstream_rate_limited));
  EXPECT_TRUE(is_retryable_before_first_token(error_code::upstream_connect_failed));
  EXPECT_TRUE(is_retryable_before_first_token(error_code::upstream_first_byte_timeout));
  EXPECT_TRUE(is_retryable_before_first_token(error_code::upstream_idle_timeout));
  EXPECT_TRUE(is_retryable_before_first_token(error_code::upstream_too_large));
  EXPECT_FALSE(is_retryable_before_first_token(error_code::upstream_bad_request));
  EXPECT_FALSE(is_retryable_before_first_token(error_code::upstream_model_not_found));
  EXPECT_FALSE(is_retryable_before_first_token(error_code::cancelled));
}

}  // namespace
}  // namespace streamgate
