// The non-streaming answer (`stream: false`) assembled from a session's pieces, as OpenAI's
// SDKs assemble a stream.
#include "transports/openai/completion_builder.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace streamgate {
namespace {

using json = nlohmann::json;
const openai::completion_context ctx{"chatcmpl-x", "mock", 1700000000};

stream_event piece(std::uint32_t choice, std::string text, std::string delta,
                   std::string finish = {}, std::string choice_members = {}) {
  auto ev = stream_event::make_delta(std::move(text));
  ev.choice = choice;
  auto f = std::make_shared<delta_fields>();
  f->delta = std::move(delta);
  f->finish_reason = std::move(finish);
  f->choice = std::move(choice_members);
  ev.fields = std::move(f);
  return ev;
}

TEST(completion_builder, plain_text_with_usage) {
  completion_builder b;
  b.add(stream_event::make_delta("All of "));
  b.add(stream_event::make_delta("it"));
  b.add(stream_event::make_choice_end(0, "stop"));
  b.add(stream_event::make_usage({2, 3}));
  auto c = json::parse(b.render(ctx, "stop"));
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_EQ(c["id"], "chatcmpl-x");
  ASSERT_EQ(c["choices"].size(), 1u);
  EXPECT_EQ(c["choices"][0]["message"], (json{{"role", "assistant"}, {"content", "All of it"}}));
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(c["usage"]["total_tokens"], 5);
}

TEST(completion_builder, tool_calls_are_put_together_from_their_fragments) {
  completion_builder b;
  b.add(piece(0, "", R"("reasoning_content":"Let me ")"));
  b.add(piece(0, "", R"("reasoning_content":"look.")"));
  b.add(piece(0, "",
              R"("tool_calls":[{"index":0,"id":"call_a","type":"function",)"
              R"("function":{"name":"get_weather","arguments":""}},)"
              R"({"index":1,"id":"call_b","type":"function","function":{"name":"get_time",)"
              R"("arguments":"{\"tz\""}}])"));
  b.add(piece(0, "", R"("tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}])"));
  b.add(piece(0, "", R"("tool_calls":[{"index":1,"function":{"arguments":":\"UTC\"}"}}])"));
  b.add(piece(0, "", R"("tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}])",
              "tool_calls"));
  auto c = json::parse(b.render(ctx, "tool_calls"));
  const auto& m = c["choices"][0]["message"];
  EXPECT_TRUE(m["content"].is_null());
  EXPECT_EQ(m["reasoning_content"], "Let me look.");
  ASSERT_EQ(m["tool_calls"].size(), 2u);
  EXPECT_EQ(m["tool_calls"][0],
            (json{{"id", "call_a"},
                  {"type", "function"},
                  {"function", {{"name", "get_weather"}, {"arguments", R"({"city":"Paris"})"}}}}));
  EXPECT_EQ(m["tool_calls"][1]["function"]["arguments"], R"({"tz":"UTC"})");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "tool_calls");
}

TEST(completion_builder, every_choice_with_its_own_finish_reason_and_logprobs) {
  completion_builder b;
  b.add(piece(1, "b1", "", "", R"("logprobs":{"content":[{"token":"b1"}]})"));
  b.add(piece(0, "a1", ""));
  b.add(piece(1, "b2", "", "", R"("logprobs":{"content":[{"token":"b2"}]})"));
  b.add(stream_event::make_choice_end(1, "length"));
  b.add(stream_event::make_choice_end(0, "stop"));
  auto c = json::parse(b.render(ctx, "stop"));
  ASSERT_EQ(c["choices"].size(), 2u);
  EXPECT_EQ(c["choices"][0]["index"], 0);
  EXPECT_EQ(c["choices"][0]["message"]["content"], "a1");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(c["choices"][1]["message"]["content"], "b1b2");
  EXPECT_EQ(c["choices"][1]["finish_reason"], "length");
  EXPECT_EQ(c["choices"][1]["logprobs"]["content"].size(), 2u);
}

TEST(completion_builder, unknown_members_are_passed_on) {
  completion_builder b;
  auto ev = piece(0, "x", R"("x_note":"a","x_count":1)");
  std::const_pointer_cast<delta_fields>(ev.fields)->chunk = R"("system_fingerprint":"fp_9")";
  b.add(ev);
  b.add(piece(0, "", R"("x_note":"b","x_count":2)", "stop"));
  auto c = json::parse(b.render(ctx, "stop"));
  EXPECT_EQ(c["system_fingerprint"], "fp_9");
  EXPECT_EQ(c["choices"][0]["message"]["x_note"], "ab");  // strings joined
  EXPECT_EQ(c["choices"][0]["message"]["x_count"], 2);    // others: the last
}

TEST(completion_builder, an_answer_with_no_piece_is_one_empty_choice) {
  completion_builder b;
  auto c = json::parse(b.render(ctx, "stop"));
  ASSERT_EQ(c["choices"].size(), 1u);
  EXPECT_EQ(c["choices"][0]["message"]["content"], "");
  EXPECT_EQ(c["usage"]["total_tokens"], 0);
}

}  // namespace
}  // namespace streamgate
