// The mock provider's answer shapes (reasoning, tool calls in fragments, several choices, a
// tool-using client's round trip) as the events a session logs, under the deterministic
// test coordinator.

#include "providers/answer_script.hpp"
#include "tests/actors/session_fixture.hpp"

#include <streamgate/chat_request.hpp>

#include <nlohmann/json.hpp>

namespace streamgate {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::recording_sink;

class mock_shapes_test : public test::session_fixture {
 protected:
  // Starts the request (its `model` routed to one mock of 3 tokens, 0 ms to the first piece,
  // 10 ms a piece) and returns the client's sink; nothing has run past the start yet.
  std::shared_ptr<recording_sink> begin(const std::string& body) {
    route({{"mock", mock({3, 0, 10})}});
    auto parsed = parse_chat_request(body);
    EXPECT_TRUE(std::holds_alternative<chat_request>(parsed)) << body;
    auto sink = std::make_shared<recording_sink>();
    start(sink, std::get<chat_request>(std::move(parsed)));
    return sink;
  }

  // The same, streamed to its end: what the client got.
  std::shared_ptr<recording_sink> run(const std::string& body) {
    auto sink = begin(body);
    advance(10s);
    EXPECT_EQ(sink->terminal_count(), 1u);
    EXPECT_EQ(registry.upstreams.load(), 0);
    for (std::size_t i = 0; i < sink->events.size(); ++i) EXPECT_EQ(sink->events[i].seq, i + 1);
    return sink;
  }

  // What a client assembles from the deltas of one choice.
  struct joined {
    std::string content, reasoning, finish_reason;
    std::vector<std::string> pieces;  // the raw delta members of every delta with fields
  };
  static joined join(const recording_sink& s, std::uint32_t choice = 0) {
    joined j;
    for (auto& e : s.events) {
      if (e.kind != event_kind::delta || e.choice != choice) continue;
      j.content += e.text;
      if (!e.fields) continue;
      if (!e.fields->finish_reason.empty()) j.finish_reason = e.fields->finish_reason;
      if (e.fields->delta.empty()) continue;
      j.pieces.push_back(e.fields->delta);
      auto d = json::parse("{" + e.fields->delta + "}");
      if (d.contains("reasoning_content")) j.reasoning += d["reasoning_content"].get<std::string>();
    }
    return j;
  }

  // The tool calls of one choice, assembled by index from their fragments as the openai SDK
  // does.
  static json tool_calls(const recording_sink& s, std::uint32_t choice = 0) {
    json calls = json::array();
    for (auto& piece : join(s, choice).pieces) {
      auto d = json::parse("{" + piece + "}");
      if (!d.contains("tool_calls")) continue;
      for (auto& f : d["tool_calls"]) {
        auto i = f["index"].get<std::size_t>();
        if (i == calls.size()) {
          EXPECT_EQ(f["type"], "function");
          calls.push_back({{"id", f["id"]}, {"name", f["function"]["name"]}, {"arguments", ""}});
        }
        calls[i]["arguments"] = calls[i]["arguments"].get<std::string>() +
                                f["function"]["arguments"].get<std::string>();
      }
    }
    return calls;
  }

  static const std::string user;
};

const std::string mock_shapes_test::user =
    R"("messages":[{"role":"user","content":"Weather in Oslo?"}])";

TEST_F(mock_shapes_test, plain_text_stays_plain_deltas_without_fields) {
  auto s = run(R"({"model":"m",)" + user + "}");
  EXPECT_EQ(s->text(), mock_text(3));
  ASSERT_EQ(s->events.size(), 3u + 3u);  // 3 tokens, choice end, usage, finish
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s->events[i].fields, nullptr);
  EXPECT_EQ(finish_reason_of(s->events[3].fields.get()), "stop");
  EXPECT_EQ(s->events[4].kind, event_kind::usage);
  EXPECT_EQ(s->events[4].usage.completion_tokens, 3u);
  EXPECT_EQ(s->last().text, "stop");
}

TEST_F(mock_shapes_test, reasoning_comes_first_apart_from_the_answer) {
  auto s = run(R"({"model":"m",)" + user + R"(,"mock":{"reasoning_tokens":4}})");
  auto j = join(*s);
  EXPECT_EQ(j.reasoning,
            reasoning_token(0) + reasoning_token(1) + reasoning_token(2) + reasoning_token(3));
  EXPECT_EQ(j.content, mock_text(3));
  // The four reasoning pieces carry no text and come before the first content.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(s->events[i].text, "");
    ASSERT_NE(s->events[i].fields, nullptr);
  }
  EXPECT_EQ(s->events[4].text, mock_token(0));
  EXPECT_EQ(s->events[4].fields, nullptr);  // content pieces stay plain
  EXPECT_EQ(j.finish_reason, "stop");
  auto usage = s->events[s->events.size() - 2];
  EXPECT_EQ(usage.kind, event_kind::usage);
  EXPECT_EQ(usage.usage.completion_tokens, 7u);
}

TEST_F(mock_shapes_test, a_tool_call_in_many_fragments_then_finish_reason_tool_calls) {
  auto s = run(R"({"model":"m",)" + user + R"(,"mock":{"tool_calls":1,"tool_fragments":6}})");
  auto calls = tool_calls(*s);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["id"], "call_0_0");
  EXPECT_EQ(calls[0]["name"], "get_weather");
  EXPECT_EQ(calls[0]["arguments"], R"({"city":"Weather in Oslo?","days":1})");
  EXPECT_EQ(join(*s).pieces.size(), 7u);  // the call's head and 6 argument fragments
  EXPECT_EQ(s->text(), "");
  EXPECT_EQ(join(*s).finish_reason, "tool_calls");
  EXPECT_EQ(s->last().kind, event_kind::finish);
  EXPECT_EQ(s->last().text, "tool_calls");
}

TEST_F(mock_shapes_test, two_parallel_tool_calls_after_reasoning) {
  auto s = run(R"({"model":"m",)" + user +
               R"(,"mock":{"reasoning_tokens":2,"tool_calls":2,"tool_fragments":3},
               "tools":[{"type":"function","function":{"name":"lookup"}},
                        {"type":"function","function":{"name":"clock"}}]})");
  auto calls = tool_calls(*s);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0]["name"], "lookup");
  EXPECT_EQ(calls[1]["name"], "clock");
  EXPECT_EQ(calls[1]["id"], "call_0_1");
  EXPECT_EQ(json::parse(calls[1]["arguments"].get<std::string>())["days"], 2);
  EXPECT_EQ(join(*s).reasoning, reasoning_token(0) + reasoning_token(1));
}

TEST_F(mock_shapes_test, two_choices_interleave_each_with_its_own_end) {
  auto s = run(R"({"model":"m","n":2,)" + user + "}");
  EXPECT_EQ(join(*s, 0).content, mock_text(3));
  EXPECT_EQ(join(*s, 1).content, mock_token(1) + mock_token(2) + mock_token(3));
  EXPECT_EQ(s->events[0].choice, 0u);
  EXPECT_EQ(s->events[1].choice, 1u);
  EXPECT_EQ(s->events[2].choice, 0u);
  EXPECT_EQ(join(*s, 0).finish_reason, "stop");
  EXPECT_EQ(join(*s, 1).finish_reason, "stop");
  // Both choice ends come before usage, and usage before the terminal finish.
  auto n = s->events.size();
  EXPECT_EQ(s->events[n - 2].kind, event_kind::usage);
  EXPECT_EQ(s->events[n - 2].usage.completion_tokens, 6u);
  EXPECT_EQ(finish_reason_of(s->events[n - 3].fields.get()), "stop");
  EXPECT_EQ(finish_reason_of(s->events[n - 4].fields.get()), "stop");
}

TEST_F(mock_shapes_test, a_request_with_tools_gets_a_call_of_the_tool_it_names) {
  auto s = run(R"({"model":"m",)" + user + R"(,
      "tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}],
      "tool_choice":{"type":"function","function":{"name":"b"}}})");
  auto calls = tool_calls(*s);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["name"], "b");
  EXPECT_EQ(s->last().text, "tool_calls");
}

TEST_F(mock_shapes_test, tool_choice_none_answers_in_text) {
  auto s = run(R"({"model":"m",)" + user + R"(,
      "tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":"none"})");
  EXPECT_EQ(s->text(), mock_text(3));
  EXPECT_EQ(tool_calls(*s).size(), 0u);
  EXPECT_EQ(s->last().text, "stop");
}

TEST_F(mock_shapes_test, after_the_tool_result_the_answer_is_text_quoting_it) {
  auto s = run(R"({"model":"m","messages":[{"role":"user","content":"Weather in Oslo?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_0_0","type":"function",
        "function":{"name":"a","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"call_0_0","content":"21 degrees"}],
      "tools":[{"type":"function","function":{"name":"a"}}]})");
  EXPECT_EQ(s->text(), "The tool answered: 21 degrees\n" + mock_text(3));
  EXPECT_EQ(tool_calls(*s).size(), 0u);
  EXPECT_EQ(s->last().text, "stop");
}

TEST_F(mock_shapes_test, pieces_are_paced_one_per_tick) {
  auto sink =
      begin(R"({"model":"m",)" + user + R"(,"mock":{"reasoning_tokens":5,"interval_ms":100}})");
  advance(50ms);
  EXPECT_EQ(sink->events.size(), 1u);  // the first piece at once, the next after 100 ms
  advance(100ms);
  EXPECT_EQ(sink->events.size(), 2u);
  advance(2s);
  EXPECT_EQ(sink->terminal_count(), 1u);
}

}  // namespace
}  // namespace streamgate
