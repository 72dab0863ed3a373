// Provider stream decoders: OpenAI chat.completion.chunk and Zhipu's legacy event format,
// each ending in exactly one terminal event however the stream ends.

#include "providers/http/stream_decoder.hpp"
#include "actors/error_code.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace streamgate {
namespace {

sse_event data(std::string d) {
  sse_event e;
  e.data = std::move(d);
  return e;
}

sse_event named(std::string event, std::string d, std::string meta = {}) {
  sse_event e;
  e.event = std::move(event);
  e.data = std::move(d);
  e.meta = std::move(meta);
  return e;
}

std::string chunk(const std::string& content, const char* finish = nullptr) {
  return R"({"choices":[{"index":0,"delta":{"content":")" + content + R"("},"finish_reason":)" +
         (finish ? "\"" + std::string{finish} + "\"" : std::string{"null"}) + "}]}";
}

std::vector<stream_event> run(adapter_kind kind, const std::vector<sse_event>& events,
                              bool end = true) {
  auto d = make_decoder(kind);
  std::vector<stream_event> out;
  for (auto& e : events) d->on_sse(e, out);
  if (end) d->on_end(out);
  return out;
}

int terminals(const std::vector<stream_event>& out) {
  int n = 0;
  for (auto& e : out) n += e.terminal() ? 1 : 0;
  return n;
}

TEST(openai_decoder, deltas_then_usage_then_finish) {
  auto out = run(
      adapter_kind::openai,
      {data(
           R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})"),
       data(chunk("Hel")), data(chunk("lo")), data(chunk("", "stop")),
       data(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}})"),
       data("[DONE]")});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].text, "Hel");
  EXPECT_EQ(out[1].text, "lo");
  EXPECT_EQ(out[2].kind, event_kind::usage);
  EXPECT_EQ(out[2].usage.prompt_tokens, 3u);
  EXPECT_EQ(out[2].usage.completion_tokens, 2u);
  EXPECT_EQ(out[3].kind, event_kind::finish);
  EXPECT_EQ(out[3].text, "stop");
}

TEST(openai_decoder, finish_reason_without_done_is_a_clean_end) {
  auto out = run(adapter_kind::openai, {data(chunk("a")), data(chunk("", "length"))});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].kind, event_kind::finish);
  EXPECT_EQ(out[1].text, "length");
}

TEST(openai_decoder, done_without_finish_reason_finishes_with_stop) {
  auto out = run(adapter_kind::openai, {data(chunk("a")), data("[DONE]")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].text, "stop");
}

TEST(openai_decoder, neither_finish_nor_done_is_an_interruption) {
  auto out = run(adapter_kind::openai, {data(chunk("a")), data(chunk("b"))});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].kind, event_kind::error);
  EXPECT_EQ(out[2].code, error_code::upstream_interrupted);
}

TEST(openai_decoder, error_object_mid_stream_ends_with_its_message) {
  auto out =
      run(adapter_kind::openai,
          {data(chunk("a")), data(R"({"error":{"message":"overloaded","type":"server_error"}})"),
           data(chunk("never"))});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].code, error_code::upstream_error);
  EXPECT_EQ(out[1].text, "overloaded");
  EXPECT_EQ(terminals(out), 1);
}

TEST(openai_decoder, error_as_a_plain_string) {
  auto out = run(adapter_kind::openai, {data(R"({"error":"quota gone"})")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "quota gone");
}

TEST(openai_decoder, a_null_error_field_is_not_an_error) {
  auto out =
      run(adapter_kind::openai,
          {data(R"({"error":null,"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}]})")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "x");
  EXPECT_EQ(out[1].kind, event_kind::finish);
}

TEST(openai_decoder, non_json_data_is_malformed) {
  auto out = run(adapter_kind::openai, {data(chunk("a")), data("{not json")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].code, error_code::upstream_malformed);
  EXPECT_EQ(terminals(out), 1);
}

TEST(openai_decoder, anything_but_one_json_object_is_malformed) {
  for (const char* bad : {"[1,2]", "\"text\"", "42", "null", R"({"a":1} trailing)",
                          R"({"a":1}{"b":2})", R"({"choices":[{"delta":{"content":"x"}}])"}) {
    auto out = run(adapter_kind::openai, {data(bad)}, false);
    ASSERT_EQ(out.size(), 1u) << bad;
    EXPECT_EQ(out[0].code, error_code::upstream_malformed) << bad;
  }
}

TEST(openai_decoder, only_the_first_choice_delta_content_is_the_answer) {
  auto out = run(adapter_kind::openai,
                 {data(R"({"content":"top","delta":{"content":"no"},"choices":[)"
                       R"({"message":{"content":"no"},"delta":{"role":"assistant","content":"yes",)"
                       R"("extra":{"content":"no"}},"finish_reason":null},)"
                       R"({"delta":{"content":"second"},"finish_reason":"length"}]})"),
                  data("[DONE]")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "yes");
  EXPECT_EQ(out[1].kind, event_kind::finish);
  EXPECT_EQ(out[1].text, "stop");  // the second choice's finish_reason is not ours
}

TEST(openai_decoder, an_error_of_any_non_null_shape_ends_the_stream) {
  for (const char* e :
       {R"({"error":{"code":500}})", R"({"error":[1]})", R"({"error":true})", R"({"error":7})"}) {
    auto out = run(adapter_kind::openai, {data(e)}, false);
    ASSERT_EQ(out.size(), 1u) << e;
    EXPECT_EQ(out[0].code, error_code::upstream_error) << e;
    EXPECT_EQ(out[0].text, "the provider reported an error mid-stream") << e;
  }
}

TEST(openai_decoder, wrongly_typed_usage_counts_read_as_zero_not_a_crash) {
  auto out = run(adapter_kind::openai,
                 {data(R"({"choices":[],"usage":{"prompt_tokens":"7","completion_tokens":-1}})"),
                  data(R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2.0}})"),
                  data("[DONE]")});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].kind, event_kind::usage);
  EXPECT_EQ(out[0].usage.total(), 0u);
  EXPECT_EQ(out[1].usage.prompt_tokens, 7u);
  EXPECT_EQ(out[1].usage.completion_tokens, 2u);
  // The non-streaming answer path reads usage with the same rule.
  EXPECT_EQ(
      usage_of(nlohmann::json::parse(R"({"prompt_tokens":"7","completion_tokens":3})")).total(),
      3u);
}

TEST(openai_decoder, invalid_utf8_in_content_is_replaced_not_forwarded) {
  auto out = run(adapter_kind::openai, {data(chunk("ok\xFF\xFEok")), data("[DONE]")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "ok\xEF\xBF\xBD\xEF\xBF\xBDok");
}

TEST(openai_decoder, exactly_one_terminal_even_with_repeated_done) {
  auto out = run(adapter_kind::openai, {data(chunk("a", "stop")), data("[DONE]"), data("[DONE]")});
  EXPECT_EQ(terminals(out), 1);
}

TEST(zhipu_legacy_decoder, add_events_then_finish_with_usage) {
  auto out = run(adapter_kind::zhipu_legacy,
                 {named("add", "你好"), named("add", "line1\nline2"),
                  named("finish", "", R"({"usage":{"prompt_tokens":4,"completion_tokens":5}})")});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].text, "你好");
  EXPECT_EQ(out[1].text, "line1\nline2");
  EXPECT_EQ(out[2].kind, event_kind::usage);
  EXPECT_EQ(out[2].usage.completion_tokens, 5u);
  EXPECT_EQ(out[3].kind, event_kind::finish);
}

TEST(zhipu_legacy_decoder, a_deeply_nested_meta_is_ignored_not_built) {
  auto deep = std::string(100000, '[') + std::string(100000, ']');
  auto out =
      run(adapter_kind::zhipu_legacy,
          {named("add", "a"),
           named("finish", "",
                 R"({"usage":{"prompt_tokens":4,"completion_tokens":5},"x":)" + deep + "}")});
  ASSERT_EQ(out.size(), 2u);  // no usage read from a tree that was never built
  EXPECT_EQ(out[1].kind, event_kind::finish);
}

TEST(openai_decoder, a_deeply_nested_chunk_needs_no_tree) {
  // The chunk reader keeps one byte per level, no tree: depth costs it nothing but the line.
  auto deep = std::string(100000, '[') + std::string(100000, ']');
  auto out = run(adapter_kind::openai,
                 {data(chunk("a")), data(R"({"error":{"message":"deep","x":)" + deep + "}}")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].code, error_code::upstream_error);
  EXPECT_EQ(out[1].text, "deep");
}

TEST(zhipu_legacy_decoder, error_and_interrupted_events) {
  auto err = run(adapter_kind::zhipu_legacy, {named("add", "a"), named("error", "bad things")});
  ASSERT_EQ(err.size(), 2u);
  EXPECT_EQ(err[1].code, error_code::upstream_error);
  EXPECT_EQ(err[1].text, "bad things");
  auto cut = run(adapter_kind::zhipu_legacy, {named("interrupted", "")});
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_EQ(cut[0].code, error_code::upstream_interrupted);
}

TEST(zhipu_legacy_decoder, ending_without_finish_is_an_interruption) {
  auto out = run(adapter_kind::zhipu_legacy, {named("add", "a")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].code, error_code::upstream_interrupted);
}

TEST(sanitize_utf8, keeps_valid_text_and_replaces_every_invalid_sequence) {
  EXPECT_EQ(sanitize_utf8("plain ascii"), "plain ascii");
  EXPECT_EQ(sanitize_utf8("\xE4\xBD\xA0\xF0\x9F\x98\x80"), "\xE4\xBD\xA0\xF0\x9F\x98\x80");
  EXPECT_EQ(sanitize_utf8("a\xFF"), "a\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(sanitize_utf8("\xE4\xBD"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // truncated
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80").substr(0, 3), "\xEF\xBF\xBD");         // > U+10FFFF
}

}  // namespace
}  // namespace streamgate
