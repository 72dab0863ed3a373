// The one-pass chat.completion.chunk reader against a reference built on nlohmann's full
// parser: it must accept exactly the texts that are one valid JSON object and read the same
// fields, for random documents (escapes, surrogate pairs, odd types and nesting) and for
// random corruptions of real chunks.

#include "providers/http/openai_chunk.hpp"
#include "tests/support/openai_chunk_reference.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

namespace streamgate {
namespace {

using json = nlohmann::json;

void expect_same(const std::string& text) {
  auto got = read_openai_chunk(text);
  EXPECT_EQ(testing::check_against_reference(text, got), "") << text;
}

class random_chunks {
 public:
  explicit random_chunks(unsigned seed) : rng_(seed) {}

  json value(int depth) {
    switch (pick(depth > 3 ? 6 : 8)) {
      case 0:
        return nullptr;
      case 1:
        return pick(2) == 0;
      case 2:
        return text();
      case 3:
        return number();
      case 4:
      case 5:
        return text();
      case 6:
        return object(depth + 1);
      default: {
        json a = json::array();
        for (int i = pick(4); i > 0; --i) a.push_back(value(depth + 1));
        return a;
      }
    }
  }

  json object(int depth) {
    static const char* keys[] = {"error",
                                 "message",
                                 "choices",
                                 "delta",
                                 "content",
                                 "usage",
                                 "finish_reason",
                                 "prompt_tokens",
                                 "completion_tokens",
                                 "id",
                                 "index",
                                 "object",
                                 "tool_calls",
                                 "function",
                                 "name",
                                 "arguments",
                                 "role",
                                 "system_fingerprint"};
    json o = json::object();
    for (int i = pick(5); i > 0; --i) {
      std::string k = keys[pick(18)];
      if (k == "choices" && pick(2) == 0) {
        json a = json::array();
        a.push_back(object(depth + 1));
        for (int n = pick(3); n > 0; --n) a.push_back(value(depth + 1));
        o[k] = a;
      } else {
        o[k] = value(depth);
      }
    }
    return o;
  }

  // Serialized as a provider might: compact or indented, UTF-8 or \u-escaped.
  std::string dump(const json& j) { return j.dump(pick(3) == 0 ? 1 : -1, ' ', pick(2) == 0); }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

 private:
  json number() {
    switch (pick(6)) {
      case 0:
        return pick(1000);
      case 1:
        return -pick(1000);
      case 2:
        return std::uniform_real_distribution<double>(-10, 1e6)(rng_);
      case 3:
        return std::uint64_t{18446744073709551615u};
      case 4:
        return 5e12;
      default:
        return 0;
    }
  }

  std::string text() {
    static const char* pieces[] = {
        "a",    "Hello", " ",    "\"",       "\\",           "/",
        "\n",   "\t",    "\x01", "\xC3\xA9", "\xE4\xBD\xA0", "\xF0\x9F\x98\x80",
        "stop", ""};
    std::string s;
    for (int i = pick(5); i > 0; --i) s += pieces[pick(14)];
    return s;
  }

  std::mt19937 rng_;
};

TEST(openai_chunk, reads_a_typical_chunk) {
  auto c = read_openai_chunk(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",)"
      R"("choices":[{"index":0,"delta":{"content":"Hi \"you\" \u00e9\ud83d\ude00"},)"
      R"("finish_reason":null}]})");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->choices.size(), 1u);
  EXPECT_EQ(c->choices[0].content, "Hi \"you\" \xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(c->choices[0].finish_reason, "");
  EXPECT_EQ(c->choices[0].delta_members, "");
  EXPECT_EQ(c->choices[0].choice_members, "");
  EXPECT_EQ(c->chunk_members, "");
  EXPECT_FALSE(c->usage);
  EXPECT_FALSE(c->error);
  EXPECT_EQ(c->malformed, nullptr);
}

TEST(openai_chunk, keeps_every_member_it_does_not_act_on_as_raw_text) {
  auto c = read_openai_chunk(
      R"({"id":"x","object":"chat.completion.chunk","created":1,"model":"m",)"
      R"("system_fingerprint":"fp_1", "service_tier" : null,"x_extra":{"a":[1,2]},)"
      R"("choices":[{"index":1,"delta":{"role":"assistant","content":null,)"
      R"("reasoning_content":"th\u0069nk","tool_calls":[{"index":0,"id":"call_1",)"
      R"("type":"function","function":{"name":"get","arguments":"{\"a\""}}]},)"
      R"("logprobs":{"content":[]},"finish_reason":"tool_calls"}],)"
      R"("usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,)"
      R"("completion_tokens_details":{"reasoning_tokens":2}}})");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->malformed, nullptr);
  // Byte for byte as sent, nulls left out.
  EXPECT_EQ(c->chunk_members, R"("system_fingerprint":"fp_1","x_extra":{"a":[1,2]})");
  ASSERT_EQ(c->choices.size(), 1u);
  const auto& ch = c->choices[0];
  EXPECT_EQ(ch.index, 1u);
  EXPECT_EQ(ch.content, "");
  EXPECT_EQ(ch.finish_reason, "tool_calls");
  EXPECT_EQ(ch.delta_members,
            R"("reasoning_content":"th\u0069nk","tool_calls":[{"index":0,"id":"call_1",)"
            R"("type":"function","function":{"name":"get","arguments":"{\"a\""}}])");
  EXPECT_EQ(ch.choice_members, R"("logprobs":{"content":[]})");
  ASSERT_TRUE(c->usage);
  EXPECT_EQ(c->usage->prompt_tokens, 3u);
  EXPECT_EQ(c->usage_json, R"({"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,)"
                           R"("completion_tokens_details":{"reasoning_tokens":2}})");
}

TEST(openai_chunk, reads_every_choice) {
  auto c = read_openai_chunk(
      R"({"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}},)"
      R"({"delta":{"content":"c"}}]})");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->choices.size(), 3u);
  EXPECT_EQ(c->choices[1].index, 1u);
  EXPECT_EQ(c->choices[1].content, "b");
  EXPECT_EQ(c->choices[2].index, 2u);  // no index: its position
}

TEST(openai_chunk, names_what_breaks_the_shape_it_relies_on) {
  auto malformed = [](const std::string& choice) {
    auto c = read_openai_chunk(R"({"choices":[)" + choice + "]}");
    EXPECT_TRUE(c) << choice;
    return c && c->malformed != nullptr ? std::string{c->malformed} : std::string{};
  };
  EXPECT_EQ(malformed(R"("text")"), "a choice that is not an object");
  EXPECT_EQ(malformed(R"({"delta":"text"})"), "a delta that is not an object");
  EXPECT_EQ(malformed(R"({"delta":{"tool_calls":{"index":0}}})"),
            "tool_calls that is not an array");
  EXPECT_EQ(malformed(R"({"delta":{"tool_calls":[7]}})"), "a tool call that is not an object");
  EXPECT_EQ(malformed(R"({"delta":{"tool_calls":[{"id":"c"}]}})"), "a tool call without an index");
  EXPECT_EQ(malformed(R"({"delta":{"tool_calls":[{"index":-1}]}})"),
            "a tool call index that is not an integer from 0 to 1023");
  EXPECT_EQ(malformed(R"({"delta":{"tool_calls":[{"index":0,"function":"f"}]}})"),
            "a tool call's function that is not an object");
  EXPECT_EQ(malformed(R"({"delta":{"tool_calls":[{"index":0,"function":{"arguments":{}}}]}})"),
            "a tool call's function name or arguments that is not a string");
  EXPECT_EQ(malformed(R"({"delta":{"tool_calls":[{"index":0,"id":5}]}})"),
            "a tool call's id or type that is not a string");
  EXPECT_EQ(malformed(R"({"index":128,"delta":{}})"),
            "a choice index that is not an integer from 0 to 127");
  EXPECT_EQ(malformed(R"({"index":0,"delta":null,"finish_reason":"stop"})"), "");
}

TEST(openai_chunk, refuses_what_json_refuses) {
  for (const char* bad : {"",
                          "{",
                          "}",
                          "{\"a\"}",
                          "{\"a\":}",
                          "{\"a\":1,}",
                          "{,}",
                          "{\"a\":01}",
                          "{\"a\":1.}",
                          "{\"a\":.5}",
                          "{\"a\":1e}",
                          "{\"a\":-}",
                          "{\"a\":+1}",
                          "{\"a\":tru}",
                          "{\"a\":nul}",
                          "{\"a\":[1,]}",
                          "{\"a\":[1}",
                          "{\"a\":\"x}",
                          "{\"a\":\"\\x\"}",
                          "{\"a\":\"\\u12\"}",
                          "{\"a\":\"\\ud83d\"}",
                          "{\"a\":\"\\ude00\"}",
                          "{\"a\":\"\x01\"}",
                          "{\"a\":\"\xC0\xAF\"}",
                          "{\"a\":\"\xED\xA0\x80\"}",
                          "{\"a\":\"\xF4\x90\x80\x80\"}",
                          "{\"a\":\"\xE4\xBD\"}",
                          "{'a':1}",
                          "{\"a\":1}x",
                          "[]",
                          "1",
                          "{\"a\":1}{}"}) {
    EXPECT_FALSE(read_openai_chunk(bad)) << bad;
    expect_same(bad);
  }
}

TEST(openai_chunk, numbers_past_a_double_are_refused_when_huge_and_zero_when_tiny) {
  std::string many(400, '9');
  for (const std::string& n : std::vector<std::string>{
           "1e400", "-1e400", "0.001e400", many, many + ".5", many + "e-10", "1e-400",
           "0.0000001e-400", "-1e-400", "0.5", "4294967296", "-0", "-0.0"}) {
    auto text = R"({"usage":{"prompt_tokens":)" + n + "}}";
    expect_same(text);
  }
}

TEST(openai_chunk, nesting_is_bounded_without_recursion) {
  auto nested = [](std::size_t levels) {
    return "{\"a\":" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
  };
  EXPECT_TRUE(read_openai_chunk(nested(max_chunk_depth)));
  EXPECT_FALSE(read_openai_chunk(nested(max_chunk_depth + 1)));
  EXPECT_FALSE(read_openai_chunk(nested(100000)));  // refused at level 65, no stack used
}

TEST(openai_chunk, agrees_with_the_full_parser_on_random_documents) {
  random_chunks gen{7};
  for (int i = 0; i < 20000; ++i) {
    expect_same(gen.dump(gen.object(0)));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(openai_chunk, agrees_with_the_full_parser_on_corrupted_chunks) {
  random_chunks gen{11};
  const std::string bytes = "{}[]\":,\\ u0-1.eE+tfn\x01\x80\xC3\xF0";
  for (int i = 0; i < 20000; ++i) {
    auto text = gen.dump(gen.object(0));
    for (int n = gen.pick(3) + 1; n > 0 && !text.empty(); --n) {
      auto at = static_cast<std::size_t>(gen.pick(static_cast<int>(text.size())));
      switch (gen.pick(3)) {
        case 0:
          text.erase(at, 1);
          break;
        case 1:
          text.insert(at, 1,
                      bytes[static_cast<std::size_t>(gen.pick(static_cast<int>(bytes.size())))]);
          break;
        default:
          text[at] = bytes[static_cast<std::size_t>(gen.pick(static_cast<int>(bytes.size())))];
      }
    }
    expect_same(text);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace streamgate
