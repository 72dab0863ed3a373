// The WebSocket protocol's pure half: parsing client frames and rendering server frames.

#include "transports/ws/ws_protocol.hpp"

#include "actors/json_input.hpp"

#include <gtest/gtest.h>

namespace streamgate::ws {
namespace {

using json = nlohmann::json;

TEST(ws_protocol, parses_a_start_with_its_chat_request) {
  auto c = parse_command(
      R"({"type":"start","id":"s1","request":{"model":"mock","messages":[{"role":"user","content":"hi"}]}})");
  ASSERT_EQ(c.what, command::kind::start);
  EXPECT_EQ(c.id, "s1");
  EXPECT_EQ(c.request.model, "mock");
}

TEST(ws_protocol, parses_resume_cancel_and_ping) {
  auto r = parse_command(R"({"type":"resume","id":"r","session":"sess_x","after":17})");
  ASSERT_EQ(r.what, command::kind::resume);
  EXPECT_EQ(r.session, "sess_x");
  EXPECT_EQ(r.after, 17u);
  EXPECT_EQ(parse_command(R"({"type":"resume","id":"r","session":"s"})").after, 0u);
  EXPECT_EQ(parse_command(R"({"type":"cancel","id":"x"})").what, command::kind::cancel);
  auto p = parse_command(R"({"type":"ping","data":[1,2]})");
  ASSERT_EQ(p.what, command::kind::ping);
  EXPECT_EQ(p.data, json::parse("[1,2]"));
}

TEST(ws_protocol, refuses_what_it_cannot_use_and_says_why) {
  struct bad {
    const char* frame;
    const char* code;
  };
  for (auto [frame, code] : {
           bad{"", "invalid_json"},
           bad{"{", "invalid_json"},
           bad{"42", "invalid_request"},
           bad{R"({"type":7})", "invalid_request"},
           bad{R"({"type":"bogus","id":"a"})", "invalid_request"},
           bad{R"({"type":"start","id":"","request":{}})", "invalid_request"},
           bad{R"({"type":"start","id":3,"request":{}})", "invalid_request"},
           bad{R"({"type":"start","id":"a","request":"hi"})", "invalid_request"},
           bad{R"({"type":"resume","id":"a"})", "invalid_request"},
           bad{R"({"type":"resume","id":"a","session":"s","after":"1"})", "invalid_request"},
           bad{R"({"type":"cancel"})", "invalid_request"},
       }) {
    auto c = parse_command(frame);
    EXPECT_EQ(c.what, command::kind::invalid) << frame;
    EXPECT_EQ(c.error_code, code) << frame;
    EXPECT_FALSE(c.error_message.empty()) << frame;
  }
  auto long_id = parse_command(R"({"type":"cancel","id":")" + std::string(200, 'x') + "\"}");
  EXPECT_EQ(long_id.what, command::kind::invalid);
  EXPECT_TRUE(long_id.id.empty());  // not echoed back
}

// Found by fuzz_ws_command: a refusal for a missing or unknown type echoed the client's id
// whole, however long.
TEST(ws_protocol, refusals_never_echo_an_overlong_id) {
  std::string big(100000, 'x');
  for (const auto& frame : {R"({"id":")" + big + "\"}", R"({"type":7,"id":")" + big + "\"}",
                            R"({"type":"bogus","id":")" + big + "\"}"}) {
    auto c = parse_command(frame);
    EXPECT_EQ(c.what, command::kind::invalid);
    EXPECT_LE(c.id.size(), max_stream_id);
    EXPECT_LT(error(c.id, c.error_code, c.error_message).size(), 1000u);
  }
}

TEST(ws_protocol, deep_nesting_is_refused_and_a_request_has_the_room_it_has_over_http) {
  auto deep = [](std::size_t levels) {
    return std::string(levels, '[') + std::string(levels, ']');
  };
  // A 100,000-deep ping `data` was copied and echoed in the pong recursively: a stack overflow.
  auto ping = parse_command(R"({"type":"ping","data":)" + deep(100000) + "}");
  EXPECT_EQ(ping.what, command::kind::invalid);
  EXPECT_EQ(ping.error_code, "invalid_request");
  EXPECT_NE(ping.error_message.find("levels deep"), std::string::npos) << ping.error_message;
  // The request of a start message is parsed in place, as deep as an HTTP body may be.
  auto start = [&](std::size_t levels) {
    return parse_command(
        R"({"type":"start","id":"s","request":{"model":"m","messages":[{"role":"user","content":"x"}],"extra":)" +
        deep(levels) + "}}");
  };
  auto at_limit = start(max_json_depth - 1);
  ASSERT_EQ(at_limit.what, command::kind::start) << at_limit.error_message;
  EXPECT_EQ(at_limit.request.body["extra"].dump(), deep(max_json_depth - 1));
  EXPECT_EQ(start(max_json_depth).what, command::kind::invalid);
}

TEST(ws_protocol, renders_every_server_frame) {
  EXPECT_EQ(json::parse(started("a", "sess_1", "mock", false, 0)),
            json::parse(R"({"type":"started","id":"a","session":"sess_1","model":"mock"})"));
  EXPECT_EQ(
      json::parse(started("b", "sess_1", "", true, 5)),
      json::parse(R"({"type":"started","id":"b","session":"sess_1","resumed":true,"after":5})"));
  auto d = stream_event::make_delta("Hi");
  d.seq = 1;
  EXPECT_EQ(json::parse(event("a", d)),
            json::parse(R"({"type":"delta","id":"a","seq":1,"content":"Hi"})"));
  auto u = stream_event::make_usage({3, 2});
  u.seq = 2;
  EXPECT_EQ(json::parse(event("a", u))["usage"],
            json::parse(R"({"prompt_tokens":3,"completion_tokens":2,"total_tokens":5})"));
  auto f = stream_event::make_finish("stop");
  f.seq = 3;
  EXPECT_EQ(json::parse(event("a", f)),
            json::parse(R"({"type":"done","id":"a","seq":3,"finish_reason":"stop"})"));
  auto e = stream_event::make_error("upstream_interrupted", "broke");
  e.seq = 4;
  EXPECT_EQ(
      json::parse(event("a", e)),
      json::parse(
          R"({"type":"error","id":"a","seq":4,"code":"upstream_interrupted","message":"broke"})"));
  auto q = stream_event::make_error("quota_exhausted", "full");
  q.seq = 1;
  q.retry_after_s = 7;
  EXPECT_EQ(json::parse(event("a", q))["retry_after"], 7);
  EXPECT_FALSE(json::parse(event("a", e)).contains("retry_after"));
  stream_event c;
  c.kind = event_kind::cancelled;
  c.text = "cancelled by client";
  c.seq = 5;
  EXPECT_EQ(json::parse(event("a", c)),
            json::parse(R"({"type":"cancelled","id":"a","seq":5,"reason":"cancelled by client"})"));
  EXPECT_EQ(json::parse(error("", "invalid_json", "x")),
            json::parse(R"({"type":"error","code":"invalid_json","message":"x"})"));
  EXPECT_EQ(json::parse(pong(json{{"t", 1}})), json::parse(R"({"type":"pong","data":{"t":1}})"));
  EXPECT_EQ(json::parse(pong(nullptr)), json::parse(R"({"type":"pong"})"));
  EXPECT_EQ(json::parse(heartbeat(99)), json::parse(R"({"type":"heartbeat","time":99})"));
}

TEST(ws_protocol, invalid_utf8_from_an_upstream_is_replaced_not_thrown) {
  auto d = stream_event::make_delta(std::string("ok \xff\xfe", 5));
  d.seq = 1;
  EXPECT_NO_THROW(json::parse(event("a", d)));
}

}  // namespace
}  // namespace streamgate::ws
