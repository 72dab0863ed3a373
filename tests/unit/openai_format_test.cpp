#include "transports/openai/openai_format.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
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

TEST(openai_format, a_choice_end_is_a_chunk_with_an_empty_delta_and_its_reason) {
  std::string out;
  append_piece(out, ctx, stream_event::make_choice_end(0, "length"), false);
  // Byte for byte what the finish chunk always was.
  EXPECT_EQ(out, R"({"id":"chatcmpl-x","object":"chat.completion.chunk","created":1700000000,)"
                 R"("model":"mock","choices":[{"index":0,"delta":{},"finish_reason":"length"}]})");
}

TEST(openai_format, a_piece_carries_what_the_provider_sent_in_its_places) {
  auto ev = stream_event::make_delta("Hi");
  ev.choice = 1;
  auto f = std::make_shared<delta_fields>();
  f->chunk = R"("system_fingerprint":"fp_1")";
  f->choice = R"("logprobs":{"content":[]})";
  f->delta = R"("reasoning_content":"hm","tool_calls":[{"index":0,"id":"c"}])";
  ev.fields = f;
  std::string out;
  append_piece(out, ctx, ev, true);
  EXPECT_EQ(out, R"({"id":"chatcmpl-x","object":"chat.completion.chunk","created":1700000000,)"
                 R"("model":"mock","system_fingerprint":"fp_1","choices":[{"index":1,"delta":)"
                 R"({"role":"assistant","content":"Hi","reasoning_content":"hm","tool_calls":)"
                 R"([{"index":0,"id":"c"}]},"logprobs":{"content":[]},"finish_reason":null}]})");
  EXPECT_NO_THROW(json::parse(out));
}

TEST(openai_format, usage_chunk_passes_the_providers_object_on) {
  auto counted = json::parse(usage_chunk(ctx, stream_event::make_usage({7, 3})));
  EXPECT_TRUE(counted["choices"].empty());
  EXPECT_EQ(counted["usage"]["total_tokens"], 10);
  auto sent = stream_event::make_usage({7, 3});
  sent.text = R"({"prompt_tokens":7,"completion_tokens":3,"total_tokens":10,)"
              R"("completion_tokens_details":{"reasoning_tokens":2}})";
  auto given = json::parse(usage_chunk(ctx, sent));
  EXPECT_EQ(given["usage"]["completion_tokens_details"]["reasoning_tokens"], 2);
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

}  // namespace
}  // namespace streamgate::openai
