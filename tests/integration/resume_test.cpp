// Resume, exactly once, on every transport: the client's connection is cut at seeded random
// points (by the client, or by the server through /admin/connections/drop), the client
// reconnects and resumes from the last seq it saw, and in the end the text it assembled
// must be the session's full answer: no gap, no duplicate.

#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <random>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

constexpr unsigned answer_tokens = 150;

http_options with_admin() {
  auto o = test_server::default_options();
  o.admin = true;
  return o;
}

// What a resuming client assembles, checked as it goes.
struct assembled {
  std::string text;
  std::uint64_t last_seq = 0;
  std::string terminal;  // "done", "cancelled", "error"
  unsigned reconnects = 0;
};

class resume : public ::testing::TestWithParam<unsigned> {
 protected:
  test_server server{gateway_config::with_mock_provider(), with_admin()};
  std::mt19937 rng{GetParam()};

  // Events to read before the next cut.
  int next_cut() { return std::uniform_int_distribution<int>{1, 40}(rng); }
  // Half of the cuts come from the server side, like a network failure.
  bool cut_by_server() { return std::bernoulli_distribution{0.5}(rng); }

  void server_drops_every_stream() {
    http_client admin{server.port()};
    auto r = admin.request("POST", "/admin/connections/drop");
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  std::string create_session() {
    http_client c{server.port()};
    auto r = c.request("POST", "/v1/sessions", mock_body(false, answer_tokens, 1));
    EXPECT_EQ(r.status, 201u) << r.body;
    return json::parse(r.body)["session"];
  }

  void expect_full_answer(const assembled& a) {
    EXPECT_EQ(a.terminal, "done");
    EXPECT_EQ(a.text, mock_text(answer_tokens));
    EXPECT_GT(a.reconnects, 0u);
    EXPECT_TRUE(eventually([&] { return server.engine().counts().active_upstreams == 0; }));
  }
};

TEST_P(resume, websocket_resumes_exactly_once_after_random_cuts) {
  assembled a;
  auto c = std::make_unique<ws_client>(server.port());
  c->send({{"type", "start"}, {"id", "a"}, {"request", mock_request(answer_tokens, 1)}});
  auto started = c->next();
  ASSERT_TRUE(started);
  std::string session = (*started)["session"];
  int budget = next_cut();
  while (a.terminal.empty()) {
    if (auto m = c->next()) {
      auto type = (*m)["type"].get<std::string>();
      ASSERT_EQ((*m)["seq"], a.last_seq + 1) << m->dump();  // no gap, no duplicate
      a.last_seq = (*m)["seq"];
      if (type == "delta") a.text += (*m)["content"].get<std::string>();
      if (type == "done" || type == "error" || type == "cancelled") a.terminal = type;
      if (!a.terminal.empty() || --budget > 0) continue;
      budget = next_cut();
      if (cut_by_server()) {
        // Frames already on the way still count; the socket then ends.
        server_drops_every_stream();
        continue;
      }
      c->drop();
    }
    ++a.reconnects;
    ASSERT_LT(a.reconnects, 100u);
    c = std::make_unique<ws_client>(server.port());
    auto id = "r" + std::to_string(a.reconnects);
    c->send({{"type", "resume"}, {"id", id}, {"session", session}, {"after", a.last_seq}});
    auto ack = c->next();
    ASSERT_TRUE(ack);
    ASSERT_EQ((*ack)["type"], "started") << ack->dump();
  }
  expect_full_answer(a);
}

TEST_P(resume, sse_resumes_exactly_once_with_last_event_id) {
  auto session = create_session();
  assembled a;
  bool finished = false;
  while (!finished) {
    http_client c{server.port()};
    std::map<std::string, std::string> headers{{"Accept", "text/event-stream"}};
    if (a.last_seq > 0) headers["Last-Event-ID"] = std::to_string(a.last_seq);
    auto head = c.open_stream("GET", "/v1/sessions/" + session + "/events", "", headers);
    ASSERT_EQ(head.status, 200u);
    int budget = next_cut();
    bool server_cut = false;
    while (auto ev = c.next_event()) {
      if (ev->data.empty()) continue;  // keep-alive
      if (ev->data == "[DONE]") {
        finished = true;
        break;
      }
      auto chunk = json::parse(ev->data);
      if (!ev->id.empty()) {
        auto seq = std::stoull(ev->id);
        ASSERT_GT(seq, a.last_seq);  // the usage event's seq has no SSE id
        a.last_seq = seq;
      }
      if (chunk.contains("error")) {
        a.terminal = chunk["error"]["code"];
        finished = true;
        break;
      }
      auto& choice = chunk["choices"][0];
      if (choice["delta"].contains("content")) a.text += choice["delta"]["content"];
      if (!choice["finish_reason"].is_null()) a.terminal = "done";
      if (--budget == 0 && !server_cut) {
        if (!cut_by_server()) break;  // the client goes away
        server_drops_every_stream();
        server_cut = true;
      }
    }
    if (!finished) ++a.reconnects;
    ASSERT_LT(a.reconnects, 100u);
  }
  expect_full_answer(a);
}

TEST_P(resume, long_poll_resumes_exactly_once_after_abandoned_polls) {
  auto session = create_session();
  assembled a;
  bool done = false;
  // Polls share a keep-alive connection until one is abandoned: a late event of an earlier
  // poll must never leak into the next poll's answer.
  auto c = std::make_unique<http_client>(server.port());
  while (!done) {
    auto target =
        "/v1/sessions/" + session + "/events?after=" + std::to_string(a.last_seq) + "&wait_ms=2000";
    if (std::bernoulli_distribution{0.3}(rng)) {
      // A poll whose connection dies while it waits or answers: its events are lost on
      // the wire, and the next poll from the same `after` gets them again.
      c->send_raw("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
      c = std::make_unique<http_client>(server.port());
      ++a.reconnects;
      continue;
    }
    auto r = c->request("GET", target);
    ASSERT_EQ(r.status, 200u) << r.body;
    auto body = json::parse(r.body);
    for (auto& ev : body["events"]) {
      ASSERT_EQ(ev["seq"], a.last_seq + 1) << ev.dump();
      a.last_seq = ev["seq"];
      if (ev["type"] == "delta") a.text += ev["content"].get<std::string>();
      if (ev["type"] == "done") a.terminal = "done";
    }
    EXPECT_EQ(body["last_seq"], a.last_seq);
    done = body["done"];
  }
  expect_full_answer(a);
}

INSTANTIATE_TEST_SUITE_P(seeds, resume, ::testing::Values(1u, 7u, 42u));

TEST(resume_window, a_session_nobody_resumes_cancels_its_upstream_when_the_window_ends) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.sessions.resume_window = std::chrono::milliseconds(100);
  test_server server{cfg};
  {
    ws_client c{server.port()};
    c.send({{"type", "start"}, {"id", "a"}, {"request", mock_request(100000, 5)}});
    ASSERT_EQ((*c.next())["type"], "started");
    ASSERT_EQ((*c.next())["type"], "delta");
    c.drop();
  }
  EXPECT_TRUE(eventually([&] { return server.engine().counts().active_upstreams == 0; }));
  EXPECT_TRUE(eventually([&] { return server.engine().counts().live_sessions == 0; }));
}

// A log far bigger than the per-client buffer bound still arrives whole, exactly once and
// in order, to a client that reads: the replay goes in parts that fit the bound.
TEST(resume_replay, a_log_bigger_than_the_client_buffer_bound_is_replayed_whole) {
  auto o = test_server::default_options();
  o.max_pending_bytes = 8 * 1024;
  test_server server{gateway_config::with_mock_provider(), o};
  constexpr unsigned tokens = 3000;  // about 200 KB of frames
  http_client c{server.port()};
  std::string session =
      json::parse(c.request("POST", "/v1/sessions", mock_body(false, tokens)).body)["session"];
  // Nobody watches it live (a burst at full mock speed would trip the small bound).
  ASSERT_TRUE(eventually([&] { return server.engine().counts().active_sessions == 0; }));

  ws_client w{server.port()};
  w.send({{"type", "resume"}, {"id", "r"}, {"session", session}, {"after", 0}});
  std::string text;
  std::uint64_t seq = 0;
  for (auto m = w.next(); m && (*m)["type"] != "done"; m = w.next()) {
    if ((*m)["type"] != "delta") continue;
    EXPECT_EQ((*m)["seq"].get<std::uint64_t>(), ++seq);
    text += (*m)["content"].get<std::string>();
  }
  EXPECT_EQ(text, mock_text(tokens));

  http_client s{server.port()};
  s.open_stream("GET", "/v1/sessions/" + session + "/events", "",
                {{"Accept", "text/event-stream"}});
  text.clear();
  while (auto ev = s.next_event()) {
    if (ev->data.empty() || ev->data == "[DONE]") continue;
    auto delta = json::parse(ev->data)["choices"][0]["delta"];
    if (delta.contains("content")) text += delta["content"].get<std::string>();
  }
  EXPECT_EQ(text, mock_text(tokens));

  // A long poll's page holds what fits the bound; the client goes on from its last_seq.
  std::size_t events = 0;
  std::uint64_t after = 0;
  bool done = false;
  for (int pages = 0; !done && pages < 1000; ++pages) {
    auto page = json::parse(
        c.request("GET", "/v1/sessions/" + session + "/events?after=" + std::to_string(after))
            .body);
    for (auto& ev : page["events"]) {
      EXPECT_EQ(ev["seq"].get<std::uint64_t>(), ++after);
      ++events;
    }
    done = page["done"];
  }
  EXPECT_EQ(events, tokens + 3);  // and the choice's end, usage, done
  EXPECT_EQ(server.server().slow_consumer_drops(), 0u);
  EXPECT_LE(server.server().most_unsent_bytes(), o.max_pending_bytes);
}

// Clients that resume a long finished session and never read: each holds no more than its
// budget (the replay waits in the log), and each is let go once a write has waited
// write_timeout, so its socket does not outlive the session.
TEST(resume_replay, clients_that_resume_a_long_session_and_never_read_stay_within_their_budget) {
  auto o = test_server::default_options();
  o.max_pending_bytes = 64 * 1024;
  o.write_timeout = std::chrono::milliseconds(500);
  test_server server{gateway_config::with_mock_provider(), o};
  constexpr unsigned tokens = 100000;  // megabytes of frames: more than the kernel buffers hold
  http_client c{server.port()};
  std::string session =
      json::parse(c.request("POST", "/v1/sessions", mock_body(false, tokens)).body)["session"];
  ASSERT_TRUE(eventually([&] { return server.engine().counts().active_sessions == 0; },
                         std::chrono::seconds(30)));

  http_client sse{server.port(), std::chrono::seconds(10), 4096};
  sse.send_raw("GET /v1/sessions/" + session +
               "/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
  ws_client ws{server.port(), std::chrono::seconds(10), 4096};
  ws.send({{"type", "resume"}, {"id", "r"}, {"session", session}, {"after", 0}});
  // Neither reads from now on.
  ASSERT_TRUE(
      eventually([&] { return server.server().write_timeouts() == 2; }, std::chrono::seconds(20)));
  EXPECT_EQ(server.server().slow_consumer_drops(), 0u);
  EXPECT_LE(server.server().most_unsent_bytes(), o.max_pending_bytes);
  EXPECT_TRUE(eventually([&] { return server.server().open_connections() == 1; }));  // `c`
  EXPECT_EQ(server.engine().counts().live_sessions, 1u);  // still there to resume
}

// A cursor beyond the log's end is a seq the session never gave out: refused with
// invalid_request on every transport, never answered with earlier events.
TEST(resume_cursor, a_cursor_beyond_the_last_event_is_refused_on_every_transport) {
  test_server server;
  http_client c{server.port()};
  std::string session =
      json::parse(c.request("POST", "/v1/sessions", mock_body(false, 100000, 5)).body)["session"];
  auto first = json::parse(
      c.request("GET", "/v1/sessions/" + session + "/events?after=0&wait_ms=2000").body);
  ASSERT_FALSE(first["events"].empty());  // running, with a few events

  auto poll = c.request("GET", "/v1/sessions/" + session + "/events?after=1000000&wait_ms=300");
  EXPECT_EQ(poll.status, 400u) << poll.body;
  EXPECT_EQ(json::parse(poll.body)["error"]["code"], "invalid_request");

  http_client s{server.port()};
  auto head = s.open_stream("GET", "/v1/sessions/" + session + "/events", "",
                            {{"Accept", "text/event-stream"}, {"Last-Event-ID", "99999999"}});
  EXPECT_EQ(head.status, 400u);

  ws_client w{server.port()};
  w.send({{"type", "resume"}, {"id", "r"}, {"session", session}, {"after", 1000000000}});
  ASSERT_EQ((*w.next())["type"], "started");
  auto refused = w.next();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ((*refused)["type"], "error") << refused->dump();
  EXPECT_EQ((*refused)["code"], "invalid_request");
  EXPECT_EQ((*refused)["id"], "r");
  // The session runs on, and a cursor within its log resumes as ever.
  w.send({{"type", "resume"}, {"id", "r"}, {"session", session}, {"after", 1}});
  ASSERT_EQ((*w.next())["type"], "started");
  auto next = w.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ((*next)["seq"], 2);
  ASSERT_TRUE(c.request("POST", "/v1/sessions/" + session + "/cancel").status == 200u);
}

TEST(resume_sse, a_cancel_reaches_the_attached_event_stream_and_the_upstream) {
  test_server server;
  http_client c{server.port()};
  std::string session =
      json::parse(c.request("POST", "/v1/sessions", mock_body(false, 100000, 5)).body)["session"];
  http_client s{server.port()};
  s.open_stream("GET", "/v1/sessions/" + session + "/events", "",
                {{"Accept", "text/event-stream"}});
  ASSERT_TRUE(s.next_event().has_value());
  ASSERT_EQ(c.request("POST", "/v1/sessions/" + session + "/cancel").status, 200u);
  std::string last;
  while (auto ev = s.next_event()) {
    if (!ev->data.empty()) last = ev->data;
  }
  EXPECT_EQ(json::parse(last)["error"]["code"], "cancelled");
  EXPECT_TRUE(eventually([&] { return server.engine().counts().active_upstreams == 0; }));
}

TEST(resume_sse, an_idle_sse_stream_sends_keep_alive_comments) {
  auto o = test_server::default_options();
  o.sse_keepalive = std::chrono::milliseconds(30);
  test_server server{gateway_config::with_mock_provider(), o};
  http_client c{server.port()};
  auto r = c.request("POST", "/v1/sessions", mock_body(false, 2, 0, 400));
  std::string session = json::parse(r.body)["session"];
  c.open_stream("GET", "/v1/sessions/" + session + "/events", "",
                {{"Accept", "text/event-stream"}});
  auto ev = c.next_event();
  ASSERT_TRUE(ev);
  ASSERT_FALSE(ev->comments.empty());
  EXPECT_EQ(ev->comments[0], " keep-alive");
}

TEST(resume_sse, resuming_after_the_last_event_gets_only_done) {
  test_server server;
  http_client c{server.port()};
  auto r = c.request("POST", "/v1/sessions", mock_body(false, 2));
  std::string session = json::parse(r.body)["session"];
  // Read everything by long poll, then resume the SSE after the terminal seq.
  auto all = json::parse(
      c.request("GET", "/v1/sessions/" + session + "/events?after=0&wait_ms=2000").body);
  while (!all["done"].get<bool>()) {
    all = json::parse(c.request("GET", "/v1/sessions/" + session + "/events?wait_ms=2000&after=" +
                                           std::to_string(all["last_seq"].get<int>()))
                          .body);
  }
  http_client s{server.port()};
  auto head = s.open_stream("GET", "/v1/sessions/" + session + "/events", "",
                            {{"Accept", "text/event-stream"},
                             {"Last-Event-ID", std::to_string(all["last_seq"].get<int>())}});
  ASSERT_EQ(head.status, 200u);
  // No event again, only the end marker a client may have missed, and the response ends.
  auto done = s.next_event();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->data, "[DONE]");
  EXPECT_TRUE(done->id.empty());
  EXPECT_FALSE(s.next_event().has_value());
}

}  // namespace
}  // namespace streamgate::test
