// The fake upstream's answer shapes (tools/fake_upstream/shaped_answer.hpp): reasoning, tool
// calls in fragments, several choices, as real OpenAI chunks and as one chat.completion, and
// the faults of a broken tool call. The same generator as the mock provider's, so the expected
// texts come from providers/answer_script.hpp.

#include "providers/answer_script.hpp"
#include "tests/support/http_client.hpp"
#include "tools/fake_upstream/fake_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace streamgate::fake {
namespace {

using json = nlohmann::json;

struct fake_fixture : ::testing::Test {
  fake_fixture() {
    server_options o;
    o.defaults.chunks = 3;
    o.defaults.chunk_size = 6;
    server = std::make_unique<fake_server>(o);
    server->start();
  }
  // The `data:` payloads of a streamed answer, [DONE] included.
  std::vector<std::string> stream(const std::string& body, const std::string& spec = {}) {
    test::http_client c{server->port()};
    std::map<std::string, std::string> headers;
    if (!spec.empty()) headers["X-Fake"] = spec;
    auto r = c.request("POST", "/v1/chat/completions", body, headers);
    EXPECT_EQ(r.status, 200u) << r.body;
    std::vector<std::string> out;
    std::size_t at = 0;
    while ((at = r.body.find("data: ", at)) != std::string::npos) {
      auto end = r.body.find("\n\n", at);
      out.push_back(r.body.substr(at + 6, end - at - 6));
      at = end;
    }
    return out;
  }
  json complete(const std::string& body, const std::string& spec) {
    test::http_client c{server->port()};
    auto r = c.request("POST", "/v1/chat/completions", body, {{"X-Fake", spec}});
    EXPECT_EQ(r.status, 200u) << r.body;
    return json::parse(r.body);
  }
  std::unique_ptr<fake_server> server;
};

// A client's view of a streamed answer: per choice, what the openai SDK assembles.
struct assembled {
  std::map<std::size_t, std::string> content, reasoning, finish;
  std::map<std::size_t, json> calls;  // choice → array of {id, type, name, arguments}
  json usage;
  bool done = false;
};

assembled assemble_stream(const std::vector<std::string>& events) {
  assembled a;
  for (auto& data : events) {
    if (data == "[DONE]") {
      a.done = true;
      continue;
    }
    auto chunk = json::parse(data);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    if (chunk.contains("usage")) a.usage = chunk["usage"];
    for (auto& choice : chunk["choices"]) {
      auto i = choice["index"].get<std::size_t>();
      auto& d = choice["delta"];
      if (d.contains("content") && d["content"].is_string())
        a.content[i] += d["content"].get<std::string>();
      if (d.contains("reasoning_content"))
        a.reasoning[i] += d["reasoning_content"].get<std::string>();
      if (choice["finish_reason"].is_string()) a.finish[i] = choice["finish_reason"];
      if (!d.contains("tool_calls")) continue;
      auto& calls = a.calls[i];
      if (calls.is_null()) calls = json::array();
      for (auto& f : d["tool_calls"]) {
        auto k = f["index"].get<std::size_t>();
        if (k == calls.size())
          calls.push_back({{"id", f["id"]},
                           {"type", f["type"]},
                           {"name", f["function"]["name"]},
                           {"arguments", ""}});
        else
          EXPECT_FALSE(f.contains("id"));  // later fragments carry index and arguments only
        calls[k]["arguments"] = calls[k]["arguments"].get<std::string>() +
                                f["function"]["arguments"].get<std::string>();
      }
    }
  }
  return a;
}

const std::string chat =
    R"({"model":"fake","stream":true,"stream_options":{"include_usage":true},
        "messages":[{"role":"user","content":"Oslo"}]})";

TEST_F(fake_fixture, plain_text_is_unchanged) {
  auto events = stream(chat);
  auto a = assemble_stream(events);
  EXPECT_EQ(a.content[0], full_text(3, 6));
  EXPECT_EQ(a.finish[0], "stop");
  EXPECT_EQ(events.size(), 1u + 3u + 1u + 1u + 1u);  // role, 3 chunks, finish, usage, [DONE]
  EXPECT_EQ(events[1].find("reasoning_content"), std::string::npos);
}

TEST_F(fake_fixture, reasoning_then_text) {
  auto a = assemble_stream(stream(chat, "reasoning=3"));
  EXPECT_EQ(a.reasoning[0], reasoning_token(0) + reasoning_token(1) + reasoning_token(2));
  EXPECT_EQ(a.content[0], full_text(3, 6));
  EXPECT_EQ(a.finish[0], "stop");
  EXPECT_EQ(a.usage["completion_tokens"], 6);
  EXPECT_TRUE(a.done);
}

TEST_F(fake_fixture, two_parallel_tool_calls_in_fragments_with_the_model_suffix) {
  auto body = chat;
  body.replace(body.find("\"fake\""), 6, R"("fake@tool_calls=2,fragments=5")");
  auto events = stream(body);
  auto a = assemble_stream(events);
  ASSERT_EQ(a.calls[0].size(), 2u);
  answer_options o;
  o.subject = "Oslo";
  EXPECT_EQ(a.calls[0][0]["id"], "call_0_0");
  EXPECT_EQ(a.calls[0][0]["type"], "function");
  EXPECT_EQ(a.calls[0][0]["name"], "get_weather");
  EXPECT_EQ(a.calls[0][0]["arguments"], tool_arguments(o, 0));
  EXPECT_EQ(a.calls[0][1]["id"], "call_0_1");
  EXPECT_EQ(a.calls[0][1]["arguments"], R"({"city":"Oslo","days":2})");
  EXPECT_EQ(a.finish[0], "tool_calls");
  EXPECT_EQ(a.content[0], "");
  // Role chunk, 2 × (head + 5 fragments), finish, usage, [DONE].
  EXPECT_EQ(events.size(), 1u + 12u + 1u + 1u + 1u);
  EXPECT_NE(events[0].find(R"("content":null)"), std::string::npos);
}

TEST_F(fake_fixture, the_body_tools_and_n_are_honoured_like_the_mock) {
  auto body = json::parse(chat);
  body["n"] = 2;
  body["tools"] = json::parse(R"([{"type":"function","function":{"name":"lookup"}}])");
  auto a = assemble_stream(stream(body.dump()));
  for (std::size_t c : {0u, 1u}) {
    ASSERT_EQ(a.calls[c].size(), 1u) << c;
    EXPECT_EQ(a.calls[c][0]["name"], "lookup");
    EXPECT_EQ(a.calls[c][0]["id"], "call_" + std::to_string(c) + "_0");
    EXPECT_EQ(a.finish[c], "tool_calls");
  }
}

TEST_F(fake_fixture, n_2_streams_two_choices_with_their_own_text_and_finish) {
  auto events = stream(chat, "n=2");
  auto a = assemble_stream(events);
  EXPECT_EQ(a.content[0], full_text(3, 6));
  EXPECT_EQ(a.content[1], chunk_text(3, 6) + chunk_text(4, 6) + chunk_text(5, 6));
  EXPECT_EQ(a.finish[0], "stop");
  EXPECT_EQ(a.finish[1], "stop");
  // Interleaved: after the two role chunks, choice 0 then choice 1.
  EXPECT_EQ(json::parse(events[2])["choices"][0]["index"], 0);
  EXPECT_EQ(json::parse(events[3])["choices"][0]["index"], 1);
  EXPECT_EQ(json::parse(events[2])["system_fingerprint"], "fp_fake");
}

TEST_F(fake_fixture, a_tool_result_last_gets_a_text_answer_quoting_it) {
  auto a = assemble_stream(stream(R"({"model":"fake","stream":true,"messages":[
      {"role":"user","content":"Oslo"},{"role":"tool","tool_call_id":"call_0_0","content":"9C"}],
      "tools":[{"type":"function","function":{"name":"lookup"}}]})"));
  EXPECT_EQ(a.content[0], "The tool answered: 9C\n" + full_text(3, 6));
  EXPECT_TRUE(a.calls.empty());
  EXPECT_EQ(a.finish[0], "stop");
}

TEST_F(fake_fixture, not_streaming_assembles_tool_calls_reasoning_and_each_finish_reason) {
  auto j = complete(R"({"model":"fake","messages":[{"role":"user","content":"Oslo"}]})",
                    "n=2;reasoning=2;tool_calls=2;fragments=3");
  EXPECT_EQ(j["object"], "chat.completion");
  ASSERT_EQ(j["choices"].size(), 2u);
  for (std::size_t c = 0; c < 2; ++c) {
    auto& ch = j["choices"][c];
    EXPECT_EQ(ch["index"], c);
    EXPECT_EQ(ch["finish_reason"], "tool_calls");
    EXPECT_TRUE(ch["message"]["content"].is_null());
    EXPECT_EQ(ch["message"]["reasoning_content"], reasoning_token(0) + reasoning_token(1));
    ASSERT_EQ(ch["message"]["tool_calls"].size(), 2u);
    EXPECT_EQ(ch["message"]["tool_calls"][1]["id"], "call_" + std::to_string(c) + "_1");
    EXPECT_EQ(ch["message"]["tool_calls"][1]["function"]["arguments"],
              R"({"city":"Oslo","days":2})");
  }
  // completion tokens: per choice 2 reasoning + 2 × (1 + 3) fragments.
  EXPECT_EQ(j["usage"]["completion_tokens"], 20);
  auto text = complete(R"({"model":"fake","messages":[{"role":"user","content":"Oslo"}]})", "n=2");
  EXPECT_EQ(text["choices"][1]["message"]["content"],
            chunk_text(3, 6) + chunk_text(4, 6) + chunk_text(5, 6));
  EXPECT_EQ(text["choices"][1]["finish_reason"], "stop");
}

TEST_F(fake_fixture, bad_tool_call_sends_tool_calls_that_are_not_an_array) {
  auto events = stream(chat, "bad_tool_call=2;fragments=2");
  ASSERT_GE(events.size(), 4u);
  // Role, then the call's head (fine), then its first fragment with an object.
  EXPECT_TRUE(json::parse(events[1])["choices"][0]["delta"]["tool_calls"].is_array());
  auto bad = json::parse(events[2])["choices"][0]["delta"]["tool_calls"];
  EXPECT_TRUE(bad.is_object()) << events[2];
  EXPECT_EQ(bad["index"], 0);
  EXPECT_TRUE(json::parse(events[3])["choices"][0]["delta"]["tool_calls"].is_array());
  auto j = complete(R"({"model":"fake","messages":[]})", "bad_tool_call=1");
  EXPECT_TRUE(j["choices"][0]["message"]["tool_calls"].is_object());
}

TEST_F(fake_fixture, delta_not_object_sends_a_string_delta_in_the_nth_chunk) {
  auto events = stream(chat, "delta_not_object=2");
  ASSERT_GE(events.size(), 4u);
  EXPECT_TRUE(json::parse(events[1])["choices"][0]["delta"].is_object());
  EXPECT_TRUE(json::parse(events[2])["choices"][0]["delta"].is_string()) << events[2];
  EXPECT_TRUE(json::parse(events[3])["choices"][0]["delta"].is_object());
}

TEST_F(fake_fixture, pad_arguments_makes_one_big_argument_fragment) {
  auto a = assemble_stream(stream(chat, "tool_calls=1;fragments=1;pad_arguments=70000"));
  auto args = json::parse(a.calls[0][0]["arguments"].get<std::string>());
  EXPECT_EQ(args["pad"].get<std::string>().size(), 70000u);
}

TEST_F(fake_fixture, faults_count_shaped_chunks_too) {
  test::http_client c{server->port()};
  auto r =
      c.request("POST", "/v1/chat/completions", chat, {{"X-Fake", "reasoning=5;error_after=2"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("fake mid-stream failure"), std::string::npos);
  EXPECT_EQ(r.body.find("[DONE]"), std::string::npos);
}

TEST_F(fake_fixture, shape_keys_are_bounded) {
  test::http_client c{server->port()};
  for (auto [spec, message] :
       {std::pair{"n=0", "n must be from 1 to 128"}, std::pair{"n=129", "n must be from 1 to 128"},
        std::pair{"fragments=0", "fragments must be from 1 to 1000"},
        std::pair{"tool_calls=1001", "tool_calls must be at most 1000"}}) {
    auto r = c.request("POST", "/v1/chat/completions", chat, {{"X-Fake", spec}});
    EXPECT_EQ(r.status, 400u) << spec;
    EXPECT_EQ(json::parse(r.body)["error"]["message"], message) << spec;
  }
}

TEST_F(fake_fixture, the_legacy_format_stays_text_only) {
  test::http_client c{server->port()};
  auto r =
      c.request("POST", "/api/paas/v3/model-api/glm/sse-invoke",
                R"({"prompt":[{"role":"user","content":"x"}]})", {{"X-Fake", "reasoning=3;n=2"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body.find("reasoning"), std::string::npos);
  EXPECT_NE(r.body.find("event: finish"), std::string::npos);
}

}  // namespace
}  // namespace streamgate::fake
