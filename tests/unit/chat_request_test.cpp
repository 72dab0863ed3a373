#include "actors/chat_request.hpp"
#include "actors/error_code.hpp"
#include "actors/json_input.hpp"

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
