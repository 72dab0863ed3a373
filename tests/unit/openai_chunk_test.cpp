// The one-pass chat.completion.chunk reader against a reference built on nlohmann's full
// parser: it must accept exactly the texts that are one valid JSON object and read the same
// fields, for random documents (escapes, surrogate pairs, odd types and nesting) and for
// random corruptions of real chunks.

#include "providers/http/openai_chunk.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

namespace streamgate {
namespace {

using json = nlohmann::json;

std::optional<std::uint32_t> count_of(const json& v) {
  if (v.is_number_unsigned())
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(v.get<std::uint64_t>(), UINT32_MAX));
  if (v.is_number_integer())
    return v.get<std::int64_t>() == 0 ? std::optional<std::uint32_t>{0} : std::nullopt;
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d < 0) return std::nullopt;
    return d >= 4294967295.0 ? UINT32_MAX : static_cast<std::uint32_t>(d);
  }
  return std::nullopt;
}

// What the reader must return, from the parsed tree (no duplicate keys in these documents).
std::optional<openai_chunk> reference(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  openai_chunk c;
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    c.error = true;
    if (e->is_string()) c.error_message = e->get<std::string>();
    if (e->is_object()) {
      auto m = e->find("message");
      if (m != e->end() && m->is_string()) c.error_message = m->get<std::string>();
    }
  }
  auto ch = j.find("choices");
  if (ch != j.end() && ch->is_array() && !ch->empty() && (*ch)[0].is_object()) {
    auto& first = (*ch)[0];
    auto d = first.find("delta");
    if (d != first.end() && d->is_object()) {
      auto ct = d->find("content");
      if (ct != d->end() && ct->is_string()) c.content = ct->get<std::string>();
    }
    auto f = first.find("finish_reason");
    if (f != first.end() && f->is_string()) c.finish_reason = f->get<std::string>();
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    c.usage = usage_info{};
    for (auto [key, field] : {std::pair{"prompt_tokens", &usage_info::prompt_tokens},
                              std::pair{"completion_tokens", &usage_info::completion_tokens}}) {
      auto v = u->find(key);
      if (v == u->end()) continue;
      if (auto n = count_of(*v)) (*c.usage).*field = *n;
    }
  }
  return c;
}

void expect_same(const std::string& text) {
  auto got = read_openai_chunk(text);
  auto want = reference(text);
  ASSERT_EQ(got.has_value(), want.has_value()) << text;
  if (!want) return;
  EXPECT_EQ(got->error, want->error) << text;
  EXPECT_EQ(got->error_message, want->error_message) << text;
  EXPECT_EQ(got->content, want->content) << text;
  EXPECT_EQ(got->finish_reason, want->finish_reason) << text;
  ASSERT_EQ(got->usage.has_value(), want->usage.has_value()) << text;
  if (want->usage) {
    EXPECT_EQ(got->usage->prompt_tokens, want->usage->prompt_tokens) << text;
    EXPECT_EQ(got->usage->completion_tokens, want->usage->completion_tokens) << text;
  }
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
    static const char* keys[] = {
        "error",         "message",       "choices",           "delta", "content", "usage",
        "finish_reason", "prompt_tokens", "completion_tokens", "id",    "index",   "object"};
    json o = json::object();
    for (int i = pick(5); i > 0; --i) {
      std::string k = keys[pick(12)];
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
  EXPECT_EQ(*c->content, "Hi \"you\" \xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_FALSE(c->finish_reason);
  EXPECT_FALSE(c->usage);
  EXPECT_FALSE(c->error);
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

TEST(openai_chunk, deep_nesting_is_read_without_recursion) {
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(read_openai_chunk(deep));
  EXPECT_FALSE(read_openai_chunk(deep.substr(0, deep.size() - 2) + "}"));
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
