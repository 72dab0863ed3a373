// The WebSocket transport (/v1/ws) against the real server on a loopback port: streams,
// multiplexing, cancel, ping/pong, heartbeats, and every bad input of the protocol.

#include "providers/mock_provider.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <map>
#include <thread>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

json start_msg(const std::string& id, unsigned tokens, unsigned interval_ms = 0) {
  return {{"type", "start"}, {"id", id}, {"request", mock_request(tokens, interval_ms)}};
}

// What one stream received: its text, the seqs in order, and how it ended.
struct stream_record {
  std::string session;
  std::string text;
  std::vector<std::uint64_t> seqs;
  json terminal;
};

// Reads frames until every stream in `ids` has its terminal frame.
std::map<std::string, stream_record> read_streams(ws_client& c, std::vector<std::string> ids) {
  std::map<std::string, stream_record> out;
  std::size_t open = ids.size();
  while (open > 0) {
    auto m = c.next();
    if (!m) break;
    auto& r = out[m->value("id", "")];
    auto type = (*m)["type"].get<std::string>();
    if (type == "started") {
      r.session = (*m)["session"];
      continue;
    }
    if (m->contains("seq")) r.seqs.push_back((*m)["seq"]);
    if (type == "delta") r.text += (*m)["content"].get<std::string>();
    if (type == "done" || type == "cancelled" || type == "error") {
      r.terminal = *m;
      --open;
    }
  }
  return out;
}

// The first message that is not a delta of a running stream (nullopt if the socket ended).
std::optional<json> next_non_delta(ws_client& c) {
  auto m = c.next();
  while (m && (*m)["type"] == "delta") m = c.next();
  return m;
}

class ws : public ::testing::Test {
 protected:
  static http_options options() {
    auto o = test_server::default_options();
    o.ws_max_streams = 8;
    return o;
  }
  test_server server{gateway_config::with_mock_provider(), options()};

  void expect_no_leaks() {
    EXPECT_TRUE(eventually([&] { return server.engine().counts().active_sessions == 0; }));
    EXPECT_TRUE(eventually([&] { return server.engine().counts().active_upstreams == 0; }));
  }
};

TEST_F(ws, streams_a_chat_from_started_to_done) {
  ws_client c{server.port()};
  c.send(start_msg("a", 6));
  auto started = c.next();
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["type"], "started");
  EXPECT_EQ((*started)["id"], "a");
  EXPECT_EQ((*started)["model"], "mock");
  EXPECT_EQ((*started)["session"].get<std::string>().rfind("sess_", 0), 0u);

  std::string text;
  for (std::uint64_t seq = 1; seq <= 6; ++seq) {
    auto m = c.next();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "delta");
    EXPECT_EQ((*m)["id"], "a");
    EXPECT_EQ((*m)["seq"], seq);
    text += (*m)["content"].get<std::string>();
  }
  EXPECT_EQ(text, mock_text(6));
  auto end = c.next();  // the choice's end: its finish_reason, no text
  ASSERT_TRUE(end);
  EXPECT_EQ(
      *end,
      (json{
          {"type", "delta"}, {"id", "a"}, {"seq", 7}, {"content", ""}, {"finish_reason", "stop"}}));
  auto usage = c.next();
  ASSERT_TRUE(usage);
  EXPECT_EQ((*usage)["type"], "usage");
  EXPECT_EQ((*usage)["seq"], 8);
  EXPECT_EQ((*usage)["usage"]["completion_tokens"], 6);
  auto done = c.next();
  ASSERT_TRUE(done);
  EXPECT_EQ((*done)["type"], "done");
  EXPECT_EQ((*done)["finish_reason"], "stop");
  EXPECT_EQ((*done)["seq"], 9);
  expect_no_leaks();
}

TEST_F(ws, many_streams_share_one_socket) {
  ws_client c{server.port()};
  std::vector<std::string> ids;
  for (unsigned i = 0; i < 5; ++i) {
    ids.push_back("s" + std::to_string(i));
    c.send(start_msg(ids.back(), 20 + i, 1));
  }
  auto got = read_streams(c, ids);
  for (unsigned i = 0; i < 5; ++i) {
    auto& r = got[ids[i]];
    EXPECT_EQ(r.text, mock_text(20 + i)) << ids[i];
    EXPECT_EQ(r.terminal["type"], "done");
    for (std::size_t k = 0; k < r.seqs.size(); ++k) EXPECT_EQ(r.seqs[k], k + 1);
  }
  std::set<std::string> sessions;
  for (auto& [id, r] : got) sessions.insert(r.session);
  EXPECT_EQ(sessions.size(), 5u);
  // A finished stream's id may be used again.
  c.send(start_msg("s0", 2));
  EXPECT_EQ(read_streams(c, {"s0"})["s0"].text, mock_text(2));
  expect_no_leaks();
}

// Hundreds of streams on one socket, interleaved token by token: each gets exactly its own
// tokens, in order.
TEST(ws_multiplex, three_hundred_streams_on_one_socket_each_get_their_own_answer) {
  auto o = test_server::default_options();
  o.ws_max_streams = 300;
  test_server server{gateway_config::with_mock_provider(), o};
  ws_client c{server.port()};
  std::vector<std::string> ids;
  for (unsigned i = 0; i < 300; ++i) {
    ids.push_back("m" + std::to_string(i));
    c.send(start_msg(ids.back(), 10 + i % 7, 2));
  }
  auto got = read_streams(c, ids);
  for (unsigned i = 0; i < 300; ++i) {
    auto& r = got[ids[i]];
    EXPECT_EQ(r.text, mock_text(10 + i % 7)) << ids[i];
    EXPECT_EQ(r.terminal["type"], "done") << ids[i];
    for (std::size_t k = 0; k < r.seqs.size(); ++k) EXPECT_EQ(r.seqs[k], k + 1) << ids[i];
  }
}

TEST_F(ws, cancel_is_acknowledged_and_closes_the_upstream) {
  ws_client c{server.port()};
  c.send(start_msg("long", 100000, 5));
  ASSERT_EQ((*c.next())["type"], "started");
  ASSERT_EQ((*c.next())["type"], "delta");
  EXPECT_TRUE(eventually([&] { return server.engine().counts().active_upstreams == 1; }));
  c.send({{"type", "cancel"}, {"id", "long"}});
  auto m = next_non_delta(c);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "cancelled");
  EXPECT_EQ((*m)["id"], "long");
  EXPECT_TRUE(m->contains("seq"));
  expect_no_leaks();
  // The id is free once cancelled; a cancel for it now names an unknown stream.
  c.send({{"type", "cancel"}, {"id", "long"}});
  EXPECT_EQ((*c.next())["code"], "stream_not_found");
}

TEST_F(ws, ping_is_answered_with_pong_carrying_the_data) {
  ws_client c{server.port()};
  c.send({{"type", "ping"}, {"data", {{"t", 42}}}});
  auto m = c.next();
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "pong");
  EXPECT_EQ((*m)["data"]["t"], 42);
}

TEST_F(ws, a_100000_deep_ping_is_refused_and_the_socket_and_server_go_on) {
  // Echoed in a pong, this data was copied and dumped recursively: a stack overflow.
  ws_client c{server.port()};
  c.send_text(R"({"type":"ping","data":)" + std::string(100000, '[') + std::string(100000, ']') +
              "}");
  auto m = c.next();
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "error");
  EXPECT_EQ((*m)["code"], "invalid_request");
  EXPECT_NE((*m)["message"].get<std::string>().find("levels deep"), std::string::npos) << *m;
  c.send({{"type", "ping"}, {"data", 1}});
  m = c.next();
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "pong");
  ws_client other{server.port()};
  other.send(start_msg("a", 3));
  EXPECT_EQ(read_streams(other, {"a"})["a"].text, mock_text(3));
}

TEST(ws_shutdown, clients_hear_1001_going_away_when_the_server_stops) {
  test_server server{gateway_config::with_mock_provider()};
  ws_client c{server.port()};
  c.send({{"type", "ping"}});
  ASSERT_EQ((*c.next())["type"], "pong");
  std::thread stopper{[&] { server.server().stop(); }};
  EXPECT_FALSE(c.next().has_value());
  EXPECT_EQ(c.close_code(), 1001u);
  stopper.join();
  EXPECT_EQ(server.server().open_connections(), 0);
}

TEST(ws_heartbeat, app_level_heartbeats_arrive_on_an_idle_socket) {
  auto o = test_server::default_options();
  o.ws_heartbeat = std::chrono::milliseconds(50);
  test_server server{gateway_config::with_mock_provider(), o};
  ws_client c{server.port()};
  auto m = c.next(true);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "heartbeat");
  EXPECT_TRUE((*m)["time"].is_number_integer());
}

TEST(ws_heartbeat, a_peer_that_answers_no_pings_is_dropped_and_its_session_survives) {
  auto o = test_server::default_options();
  o.ws_ping_timeout = std::chrono::milliseconds(200);
  o.ws_heartbeat = std::chrono::milliseconds(40);
  test_server server{gateway_config::with_mock_provider(), o};
  std::string session;
  {
    ws_client silent{server.port()};
    silent.send(start_msg("x", 30, 10));
    session = (*silent.next())["session"];
    // From now on `silent` reads nothing, so it answers no pings.
    ASSERT_TRUE(eventually([&] { return server.server().ws_ping_timeouts() >= 1; }));
  }
  // A client that reads answers pings, and picks the session up where it stands.
  ws_client live{server.port()};
  live.send({{"type", "resume"}, {"id", "r"}, {"session", session}, {"after", 0}});
  auto got = read_streams(live, {"r"});
  EXPECT_EQ(got["r"].text, mock_text(30));
  // Idle but reading (so answering pings) for several timeouts: still connected.
  for (int i = 0; i < 20; ++i) ASSERT_EQ((*live.next(true))["type"], "heartbeat");
  live.send({{"type", "ping"}});
  EXPECT_EQ((*live.next())["type"], "pong");
  EXPECT_EQ(server.server().ws_ping_timeouts(), 1u);
}

// Bad input: each gets a clear error frame naming the problem, and the socket keeps working.
struct bad_frame_case {
  const char* name;
  std::string frame;
  bool binary;
  const char* code;
  const char* id;  // expected stream id in the error, "" for none
};

class ws_bad_input : public ws, public ::testing::WithParamInterface<bad_frame_case> {};

TEST_P(ws_bad_input, gets_an_error_frame_and_the_socket_stays_usable) {
  auto& p = GetParam();
  ws_client c{server.port()};
  if (p.binary)
    c.send_binary(p.frame);
  else
    c.send_text(p.frame);
  auto m = c.next();
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "error");
  EXPECT_EQ((*m)["code"], p.code);
  EXPECT_FALSE((*m)["message"].get<std::string>().empty());
  EXPECT_EQ(m->value("id", ""), p.id);
  c.send(start_msg("ok", 3));
  EXPECT_EQ(read_streams(c, {"ok"})["ok"].text, mock_text(3));
  expect_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(
    cases, ws_bad_input,
    ::testing::Values(
        bad_frame_case{"not_json", "hello there", false, "invalid_json", ""},
        bad_frame_case{"not_an_object", "[1,2,3]", false, "invalid_request", ""},
        bad_frame_case{"no_type", R"({"id":"a"})", false, "invalid_request", "a"},
        bad_frame_case{"unknown_type", R"({"type":"launch","id":"a"})", false, "invalid_request",
                       "a"},
        bad_frame_case{"binary_frame", std::string("\x00\x01\x02", 3), true, "invalid_request", ""},
        bad_frame_case{"start_without_id", R"({"type":"start","request":{}})", false,
                       "invalid_request", ""},
        bad_frame_case{"start_without_request", R"({"type":"start","id":"a"})", false,
                       "invalid_request", "a"},
        bad_frame_case{"start_with_bad_request",
                       R"({"type":"start","id":"a","request":{"model":"mock","messages":[]}})",
                       false, "invalid_request", "a"},
        bad_frame_case{
            "start_unknown_model",
            R"({"type":"start","id":"a","request":{"model":"nope","messages":[{"role":"user","content":"x"}]}})",
            false, "model_not_found", "a"},
        bad_frame_case{"resume_unknown_session",
                       R"({"type":"resume","id":"r","session":"sess_0","after":0})", false,
                       "session_not_found", "r"},
        bad_frame_case{"resume_bad_after",
                       R"({"type":"resume","id":"r","session":"sess_0","after":-3})", false,
                       "invalid_request", "r"},
        bad_frame_case{"cancel_unknown_stream", R"({"type":"cancel","id":"nope"})", false,
                       "stream_not_found", "nope"}),
    [](const auto& info) { return std::string{info.param.name}; });

TEST_F(ws, start_with_a_stream_id_in_use_is_refused) {
  ws_client c{server.port()};
  c.send(start_msg("dup", 100000, 5));
  ASSERT_EQ((*c.next())["type"], "started");
  c.send(start_msg("dup", 3));
  auto m = next_non_delta(c);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "error");
  EXPECT_EQ((*m)["code"], "duplicate_stream");
  EXPECT_EQ((*m)["id"], "dup");
  // The first stream goes on.
  EXPECT_TRUE(eventually([&] { return server.engine().counts().active_sessions == 1; }));
  c.send({{"type", "cancel"}, {"id", "dup"}});
  m = next_non_delta(c);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "cancelled");
}

TEST_F(ws, an_oversized_frame_closes_that_socket_with_1009_and_others_go_on) {
  auto o = test_server::default_options();
  o.ws_max_message_bytes = 4096;
  test_server small{gateway_config::with_mock_provider(), o};
  ws_client other{small.port()};
  ws_client c{small.port()};
  c.send_text(R"({"type":"ping","data":")" + std::string(10000, 'x') + "\"}");
  EXPECT_FALSE(c.next().has_value());
  EXPECT_EQ(c.close_code(), 1009u);
  other.send(start_msg("a", 4));
  EXPECT_EQ(read_streams(other, {"a"})["a"].text, mock_text(4));
}

TEST_F(ws, streams_over_the_per_socket_limit_are_refused) {
  ws_client c{server.port()};
  for (int i = 0; i < 8; ++i) c.send(start_msg("s" + std::to_string(i), 100000, 10));
  c.send(start_msg("one_too_many", 3));
  std::optional<json> m;
  while ((m = c.next()) && (*m)["type"] != "error") {
  }
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["code"], "too_many_streams");
  EXPECT_EQ((*m)["id"], "one_too_many");
  EXPECT_TRUE(eventually([&] { return server.engine().counts().active_sessions == 8; }));
  c.drop();  // the 8 sessions stay for their resume window; the server's end stops them
}

TEST(ws_limits, a_start_over_the_session_limit_gets_too_many_sessions) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.max_sessions = 1;
  test_server server{cfg};
  ws_client c{server.port()};
  c.send(start_msg("a", 100000, 10));
  ASSERT_EQ((*c.next())["type"], "started");
  c.send(start_msg("b", 3));
  auto m = next_non_delta(c);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["code"], "too_many_sessions");
  EXPECT_EQ((*m)["id"], "b");
  c.send({{"type", "cancel"}, {"id", "a"}});
}

TEST_F(ws, resume_after_the_terminal_event_says_the_session_ended) {
  ws_client c{server.port()};
  c.send(start_msg("a", 3));
  auto r = read_streams(c, {"a"})["a"];
  ASSERT_EQ(r.terminal["type"], "done");
  c.send({{"type", "resume"}, {"id", "b"}, {"session", r.session}, {"after", r.seqs.back()}});
  auto started = c.next();
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["type"], "started");
  EXPECT_EQ((*started)["resumed"], true);
  auto m = c.next();
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["code"], "session_ended");
  EXPECT_EQ((*m)["id"], "b");
}

TEST(ws_resume, an_expired_session_cannot_be_resumed) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.sessions.resume_window = std::chrono::milliseconds(50);
  test_server server{cfg};
  ws_client c{server.port()};
  c.send(start_msg("a", 3));
  auto r = read_streams(c, {"a"})["a"];
  ASSERT_TRUE(eventually([&] { return server.engine().counts().live_sessions == 0; }));
  c.send({{"type", "resume"}, {"id", "a"}, {"session", r.session}, {"after", 0}});
  auto m = c.next();
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["code"], "session_not_found");
}

}  // namespace
}  // namespace streamgate::test
