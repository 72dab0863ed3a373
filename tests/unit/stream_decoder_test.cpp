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
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].text, "Hel");
  EXPECT_EQ(out[0].fields, nullptr);  // plain text: nothing beside it
  EXPECT_EQ(out[1].text, "lo");
  EXPECT_EQ(out[2].kind, event_kind::delta);  // the choice's end
  EXPECT_EQ(out[2].text, "");
  EXPECT_EQ(finish_reason_of(out[2].fields.get()), "stop");
  EXPECT_EQ(out[3].kind, event_kind::usage);
  EXPECT_EQ(out[3].usage.prompt_tokens, 3u);
  EXPECT_EQ(out[3].usage.completion_tokens, 2u);
  EXPECT_EQ(out[3].text, R"({"prompt_tokens":3,"completion_tokens":2})");  // as sent
  EXPECT_EQ(out[4].kind, event_kind::finish);
  EXPECT_EQ(out[4].text, "stop");
}

TEST(openai_decoder, tool_calls_reasoning_and_every_field_pass_through) {
  auto out = run(
      adapter_kind::openai,
      {data(R"({"id":"x","system_fingerprint":"fp","choices":[{"index":0,"delta":)"
            R"({"role":"assistant","reasoning_content":"Hm."},"logprobs":null,)"
            R"("finish_reason":null}]})"),
       data(R"({"system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":null,)"
            R"("tool_calls":[{"index":0,"id":"call_1","type":"function","function":)"
            R"({"name":"f","arguments":""}}]},"finish_reason":null}]})"),
       data(R"({"system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"ok"}}]})"),
       data(R"({"system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"!"}}]})"),
       data(R"({"system_fingerprint":"fp","choices":[{"index":0,"delta":{},)"
            R"("finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":2}})"),
       data("[DONE]")});
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out[0].fields->delta, R"("reasoning_content":"Hm.")");
  EXPECT_EQ(out[0].fields->chunk, R"("system_fingerprint":"fp")");
  EXPECT_EQ(out[0].fields->choice, "");  // logprobs: null is left out
  EXPECT_EQ(out[1].fields->delta,
            R"("tool_calls":[{"index":0,"id":"call_1","type":"function","function":)"
            R"({"name":"f","arguments":""}}])");
  EXPECT_EQ(out[2].text, "ok");
  // Pieces with only the chunk's members share one object.
  EXPECT_EQ(out[2].fields, out[3].fields);
  EXPECT_EQ(out[2].fields->chunk, R"("system_fingerprint":"fp")");
  EXPECT_EQ(finish_reason_of(out[4].fields.get()), "tool_calls");
  EXPECT_EQ(out[5].kind, event_kind::usage);  // after the choice's end, though in its chunk
  EXPECT_EQ(out[6].kind, event_kind::finish);
  EXPECT_EQ(out[6].text, "tool_calls");
  EXPECT_TRUE(out[1].is_output());
  EXPECT_FALSE(out[4].is_output());
}

TEST(openai_decoder, several_choices_each_end_then_usage_once) {
  auto out = run(adapter_kind::openai,
                 {data(R"({"choices":[{"index":0,"delta":{"content":"a"}},)"
                       R"({"index":1,"delta":{"content":"b"}}]})"),
                  data(R"({"choices":[{"index":1,"delta":{},"finish_reason":"length"}],)"
                       R"("usage":{"prompt_tokens":1,"completion_tokens":1}})"),
                  data(R"({"choices":[{"index":0,"delta":{"content":"c"}}],)"
                       R"("usage":{"prompt_tokens":1,"completion_tokens":3}})"),
                  data("[DONE]")});
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out[1].choice, 1u);
  EXPECT_EQ(out[1].text, "b");
  EXPECT_EQ(finish_reason_of(out[2].fields.get()), "length");
  EXPECT_EQ(out[3].text, "c");
  // Choice 0 sent no finish_reason before [DONE]: it ends with "stop".
  EXPECT_EQ(out[4].choice, 0u);
  EXPECT_EQ(finish_reason_of(out[4].fields.get()), "stop");
  EXPECT_EQ(out[5].usage.completion_tokens, 3u);  // the last usage sent, once
  EXPECT_EQ(out[6].text, "stop");                 // choice 0's, which ended at [DONE]
}

TEST(openai_decoder, a_chunk_that_breaks_the_tool_call_shape_ends_the_stream) {
  for (const char* bad :
       {R"({"choices":[{"delta":{"tool_calls":{"index":0}}}]})",
        R"({"choices":[{"delta":"text"}]})",
        R"({"choices":[{"delta":{"tool_calls":[{"function":{"name":"f"}}]}}]})"}) {
    auto out = run(adapter_kind::openai, {data(chunk("a")), data(bad)}, false);
    ASSERT_EQ(out.size(), 2u) << bad;
    EXPECT_EQ(out[1].code, error_code::upstream_malformed) << bad;
    EXPECT_EQ(out[1].text.rfind("the provider sent ", 0), 0u) << out[1].text;
  }
}

TEST(openai_decoder, finish_reason_without_done_is_a_clean_end) {
  auto out = run(adapter_kind::openai, {data(chunk("a")), data(chunk("", "length"))});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(finish_reason_of(out[1].fields.get()), "length");
  EXPECT_EQ(out[2].kind, event_kind::finish);
  EXPECT_EQ(out[2].text, "length");
}

TEST(openai_decoder, done_without_finish_reason_finishes_with_stop) {
  auto out = run(adapter_kind::openai, {data(chunk("a")), data("[DONE]")});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(finish_reason_of(out[1].fields.get()), "stop");
  EXPECT_EQ(out[2].text, "stop");
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
  EXPECT_EQ(out[0].text, "x");  // and the choice's end, in one piece
  EXPECT_EQ(finish_reason_of(out[0].fields.get()), "stop");
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

TEST(openai_decoder, content_is_read_only_from_each_choices_delta) {
  auto out = run(adapter_kind::openai,
                 {data(R"({"content":"top","delta":{"content":"no"},"choices":[)"
                       R"({"message":{"content":"no"},"delta":{"role":"assistant","content":"yes",)"
                       R"("extra":{"content":"no"}},"finish_reason":null},)"
                       R"({"delta":{"content":"second"},"finish_reason":"length"}]})"),
                  data("[DONE]")});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].text, "yes");
  EXPECT_EQ(out[0].fields->delta, R"("extra":{"content":"no"})");
  EXPECT_EQ(out[0].fields->choice, R"("message":{"content":"no"})");
  EXPECT_EQ(out[0].fields->chunk, R"("content":"top","delta":{"content":"no"})");
  EXPECT_EQ(out[1].choice, 1u);
  EXPECT_EQ(out[1].text, "second");
  EXPECT_EQ(finish_reason_of(out[1].fields.get()), "length");
  EXPECT_EQ(finish_reason_of(out[2].fields.get()), "stop");  // choice 0 ends at [DONE]
  EXPECT_EQ(out[3].kind, event_kind::finish);
  EXPECT_EQ(out[3].text, "stop");  // choice 0's reason
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
  EXPECT_EQ(out[1].kind, event_kind::usage);  // the last one sent
  EXPECT_EQ(out[1].usage.prompt_tokens, 7u);
  EXPECT_EQ(out[1].usage.completion_tokens, 2u);
  auto wrong = run(adapter_kind::openai,
                   {data(R"({"choices":[],"usage":{"prompt_tokens":"7","completion_tokens":-1}})"),
                    data("[DONE]")});
  ASSERT_EQ(wrong.size(), 3u);
  EXPECT_EQ(wrong[1].usage.total(), 0u);
  // The non-streaming answer path reads usage with the same rule.
  EXPECT_EQ(
      usage_of(nlohmann::json::parse(R"({"prompt_tokens":"7","completion_tokens":3})")).total(),
      3u);
}

TEST(openai_decoder, invalid_utf8_in_content_is_replaced_not_forwarded) {
  auto out = run(adapter_kind::openai, {data(chunk("ok\xFF\xFEok")), data("[DONE]")});
  ASSERT_EQ(out.size(), 3u);
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
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].text, "你好");
  EXPECT_EQ(out[1].text, "line1\nline2");
  EXPECT_EQ(finish_reason_of(out[2].fields.get()), "stop");
  EXPECT_EQ(out[3].kind, event_kind::usage);
  EXPECT_EQ(out[3].usage.completion_tokens, 5u);
  EXPECT_EQ(out[4].kind, event_kind::finish);
}

TEST(zhipu_legacy_decoder, a_deeply_nested_meta_is_ignored_not_built) {
  auto deep = std::string(100000, '[') + std::string(100000, ']');
  auto out =
      run(adapter_kind::zhipu_legacy,
          {named("add", "a"),
           named("finish", "",
                 R"({"usage":{"prompt_tokens":4,"completion_tokens":5},"x":)" + deep + "}")});
  ASSERT_EQ(out.size(), 3u);  // no usage read from a tree that was never built
  EXPECT_EQ(out[2].kind, event_kind::finish);
}

TEST(openai_decoder, a_deeply_nested_chunk_is_refused_without_a_tree) {
  // The chunk reader keeps one byte per level and stops at level 65: no tree, no recursion.
  auto deep = std::string(100000, '[') + std::string(100000, ']');
  auto out = run(adapter_kind::openai,
                 {data(chunk("a")), data(R"({"error":{"message":"deep","x":)" + deep + "}}")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].code, error_code::upstream_malformed);
  EXPECT_NE(out[1].text.find("deeper than 64 levels"), std::string::npos);
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
