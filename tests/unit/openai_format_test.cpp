#include "transports/openai_format.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace streamgate::openai {
namespace {

using json = nlohmann::json;
const completion_context ctx{"chatcmpl-x", "mock", 1700000000};

// A delta chunk as the SSE transport writes it: the head made once, the token appended.
std::string delta_chunk(std::string_view content, bool with_role) {
  std::string out;
  append_delta(out, delta_head(ctx, with_role), content);
  return out;
}

TEST(openai_format, first_delta_carries_the_role) {
  auto first = json::parse(delta_chunk("Hi", true));
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["id"], "chatcmpl-x");
  EXPECT_EQ(first["created"], 1700000000);
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(first["choices"][0]["delta"]["content"], "Hi");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  auto later = json::parse(delta_chunk("there", false));
  EXPECT_FALSE(later["choices"][0]["delta"].contains("role"));
}

TEST(openai_format, finish_and_usage_chunks) {
  auto fin = json::parse(finish_chunk(ctx, "length"));
  EXPECT_EQ(fin["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(fin["choices"][0]["delta"].empty());
  auto use = json::parse(usage_chunk(ctx, {7, 3}));
  EXPECT_TRUE(use["choices"].empty());
  EXPECT_EQ(use["usage"]["total_tokens"], 10);
}

TEST(openai_format, error_body_has_openai_shape) {
  auto e = json::parse(error_body("model_not_found", "no such model"));
  EXPECT_EQ(e["error"]["code"], "model_not_found");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_EQ(e["error"]["message"], "no such model");
  EXPECT_EQ(json::parse(error_body("quota_exhausted", ""))["error"]["type"], "rate_limit_error");
}

TEST(openai_format, invalid_utf8_is_replaced_not_thrown) {
  auto text = delta_chunk("ok \xff\xfe end", false);
  auto j = json::parse(text);
  EXPECT_EQ(j["choices"][0]["delta"]["content"], "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST(openai_format, sse_framing) {
  std::string out;
  append_sse(out, 3, "{}");
  append_sse(out, 0, "[DONE]");
  EXPECT_EQ(out, "id: 3\ndata: {}\n\ndata: [DONE]\n\n");
}

TEST(openai_format, completion_object) {
  auto c = json::parse(completion(ctx, "All of it", "stop", {2, 3}));
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_EQ(c["choices"][0]["message"]["content"], "All of it");
  EXPECT_EQ(c["usage"]["completion_tokens"], 3);
}

}  // namespace
}  // namespace streamgate::openai
