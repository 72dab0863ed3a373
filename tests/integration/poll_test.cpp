// The long-poll transport: create a session, poll its events after a seq with a wait bound,
// cancel it; and the bad input of each endpoint.

#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

class poll : public ::testing::Test {
 protected:
  test_server server;
  http_client c{server.port()};

  std::string create(unsigned tokens, unsigned interval_ms = 0, unsigned first_token_ms = 0) {
    auto r =
        c.request("POST", "/v1/sessions", mock_body(false, tokens, interval_ms, first_token_ms));
    EXPECT_EQ(r.status, 201u) << r.body;
    auto j = json::parse(r.body);
    EXPECT_EQ(j["model"], "mock");
    EXPECT_EQ(r.header("x-streamgate-session"), j["session"]);
    return j["session"];
  }

  json events(const std::string& session, std::uint64_t after, unsigned wait_ms) {
    auto r = c.request("GET", "/v1/sessions/" + session + "/events?after=" + std::to_string(after) +
                                  "&wait_ms=" + std::to_string(wait_ms));
    EXPECT_EQ(r.status, 200u) << r.body;
    return json::parse(r.body);
  }
};

TEST_F(poll, returns_every_event_in_order_until_done) {
  auto s = create(5, 2);
  std::vector<json> all;
  json page;
  do {
    page = events(s, all.empty() ? 0 : all.back()["seq"].get<std::uint64_t>(), 2000);
    EXPECT_EQ(page["session"], s);
    for (auto& e : page["events"]) all.push_back(e);
    if (!all.empty()) {
      EXPECT_EQ(page["last_seq"], all.back()["seq"]);
    }
  } while (!page["done"].get<bool>());
  ASSERT_EQ(all.size(), 8u);  // 5 deltas, the choice's end, usage, done
  std::string text;
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i]["seq"], i + 1);
    if (i < 5) {
      EXPECT_EQ(all[i]["type"], "delta");
      text += all[i]["content"].get<std::string>();
    }
  }
  EXPECT_EQ(text, mock_text(5));
  EXPECT_EQ(all[5]["type"], "delta");
  EXPECT_EQ(all[5]["finish_reason"], "stop");
  EXPECT_EQ(all[6]["type"], "usage");
  EXPECT_EQ(all[6]["usage"]["completion_tokens"], 5);
  EXPECT_EQ(all[7]["type"], "done");
  EXPECT_EQ(all[7]["finish_reason"], "stop");
  // The ended session's log stays readable: a late poll from 0 gets it all at once.
  auto again = events(s, 0, 0);
  EXPECT_EQ(again["events"].size(), 8u);
  EXPECT_TRUE(again["done"].get<bool>());
}

TEST_F(poll, waits_for_the_first_event_instead_of_returning_empty) {
  auto s = create(1, 0, 200);
  auto page = events(s, 0, 5000);
  ASSERT_FALSE(page["events"].empty());
  EXPECT_EQ(page["events"][0]["type"], "delta");
}

TEST_F(poll, an_expired_wait_returns_no_events_and_not_done) {
  auto s = create(1, 0, 3000);
  auto page = events(s, 0, 20);
  EXPECT_TRUE(page["events"].empty());
  EXPECT_FALSE(page["done"].get<bool>());
  EXPECT_EQ(page["last_seq"], 0);
  c.request("POST", "/v1/sessions/" + s + "/cancel");
}

TEST_F(poll, cancel_ends_the_session_with_cancelled_and_stops_the_upstream) {
  auto s = create(100000, 5);
  auto first = events(s, 0, 2000);
  ASSERT_FALSE(first["events"].empty());
  EXPECT_TRUE(eventually([&] { return server.engine().counts().active_upstreams == 1; }));
  auto r = c.request("POST", "/v1/sessions/" + s + "/cancel");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(json::parse(r.body)["cancelled"], true);
  EXPECT_TRUE(eventually([&] { return server.engine().counts().active_upstreams == 0; }));
  json page = first;
  json last;
  while (!page["done"].get<bool>()) {
    page = events(s, page["last_seq"], 2000);
    if (!page["events"].empty()) last = page["events"].back();
  }
  EXPECT_EQ(last["type"], "cancelled");
}

TEST_F(poll, a_waiting_poll_whose_client_leaves_does_not_cancel_the_session) {
  auto s = create(3, 0, 300);
  {
    http_client gone{server.port()};
    gone.send_raw("GET /v1/sessions/" + s +
                  "/events?after=0&wait_ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  json page = events(s, 0, 5000);
  while (!page["done"].get<bool>()) page = events(s, page["last_seq"], 5000);
  EXPECT_EQ(page["events"].back()["type"], "done");
}

struct bad_poll_case {
  const char* name;
  const char* method;
  std::string target;
  unsigned status;
  const char* code;
};

class poll_bad_input : public poll, public ::testing::WithParamInterface<bad_poll_case> {};

TEST_P(poll_bad_input, is_refused_with_a_clear_error) {
  auto& p = GetParam();
  auto s = create(1);
  auto target = p.target;
  if (auto at = target.find("{s}"); at != std::string::npos) target.replace(at, 3, s);
  auto r = c.request(p.method, target, p.method == std::string{"POST"} ? "{}" : "");
  EXPECT_EQ(r.status, p.status) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["code"], p.code);
}

INSTANTIATE_TEST_SUITE_P(
    cases, poll_bad_input,
    ::testing::Values(
        bad_poll_case{"after_not_a_number", "GET", "/v1/sessions/{s}/events?after=abc", 400,
                      "invalid_request"},
        bad_poll_case{"after_negative", "GET", "/v1/sessions/{s}/events?after=-1", 400,
                      "invalid_request"},
        bad_poll_case{"wait_too_long", "GET", "/v1/sessions/{s}/events?wait_ms=600000", 400,
                      "invalid_request"},
        bad_poll_case{"unknown_session", "GET", "/v1/sessions/sess_nope/events?after=0", 404,
                      "session_not_found"},
        bad_poll_case{"cancel_unknown_session", "POST", "/v1/sessions/sess_nope/cancel", 404,
                      "session_not_found"},
        bad_poll_case{"cancel_with_get", "GET", "/v1/sessions/{s}/cancel", 405,
                      "method_not_allowed"},
        bad_poll_case{"events_with_post", "POST", "/v1/sessions/{s}/events", 405,
                      "method_not_allowed"},
        bad_poll_case{"create_with_bad_body", "POST", "/v1/sessions", 400, "invalid_request"},
        bad_poll_case{"unknown_verb", "GET", "/v1/sessions/{s}/nothing", 404, "not_found"}),
    [](const auto& info) { return std::string{info.param.name}; });

}  // namespace
}  // namespace streamgate::test

namespace streamgate::test {
namespace {

// A tool call after a reasoning phase: the same structured pieces on long poll and on an SSE
// resume of the same log, so a client assembles the same call on whatever it reads.
TEST_F(poll, structured_pieces_are_the_same_on_every_transport_and_on_replay) {
  auto body = json::parse(mock_body(false, 4));
  body["mock"]["reasoning_tokens"] = 2;
  body["mock"]["tool_calls"] = 2;
  body["mock"]["tool_fragments"] = 3;
  auto r = c.request("POST", "/v1/sessions", body.dump());
  ASSERT_EQ(r.status, 201u) << r.body;
  auto s = json::parse(r.body)["session"].get<std::string>();
  std::vector<json> pieces;
  for (std::uint64_t after = 0;;) {
    auto page = events(s, after, 2000);
    for (auto& e : page["events"])
      if (e["type"] == "delta") pieces.push_back(e);
    after = page["last_seq"];
    if (page["done"].get<bool>()) break;
  }
  // 2 reasoning pieces, 2 calls of 3 fragments (the first with the name), the choice's end.
  ASSERT_EQ(pieces.size(), 2u + 2u * 4u + 1u);
  EXPECT_EQ(pieces[0]["delta"]["reasoning_content"].is_string(), true) << pieces[0];
  EXPECT_EQ(pieces.back()["finish_reason"], "tool_calls");
  std::map<int, std::string> arguments;
  for (auto& p : pieces)
    if (p.contains("delta") && p["delta"].contains("tool_calls"))
      for (auto& call : p["delta"]["tool_calls"])
        arguments[call["index"].get<int>()] += call["function"].value("arguments", "");
  ASSERT_EQ(arguments.size(), 2u);
  EXPECT_NO_THROW(json::parse(arguments[0]));

  // The same log replayed as OpenAI chunks: one chunk per piece, with its seq as id.
  http_client sse{server.port()};
  auto head = sse.open_stream("GET", "/v1/sessions/" + s + "/events", "",
                              {{"Accept", "text/event-stream"}});
  ASSERT_EQ(head.status, 200u);
  std::size_t i = 0;
  std::uint64_t last_id = 0;
  while (auto ev = sse.next_event()) {
    if (ev->data.empty()) continue;
    auto id = std::stoull(ev->id);  // every data event has one, in increasing order
    EXPECT_GT(id, last_id);
    last_id = id;
    if (ev->data == "[DONE]") break;
    auto chunk = json::parse(ev->data);
    if (chunk["choices"].empty()) continue;  // usage
    ASSERT_LT(i, pieces.size());
    auto& piece = pieces[i++];
    EXPECT_EQ(id, piece["seq"].get<std::uint64_t>());
    auto delta = chunk["choices"][0]["delta"];
    delta.erase("role");
    EXPECT_EQ(delta, piece.value("delta", json::object())) << ev->data;
    if (piece.contains("finish_reason")) {
      EXPECT_EQ(chunk["choices"][0]["finish_reason"], piece["finish_reason"]);
    }
  }
  EXPECT_EQ(i, pieces.size());
}

}  // namespace
}  // namespace streamgate::test

namespace streamgate::test {
namespace {

// A long-poll client between two polls when the server starts to drain: new connections are
// refused from then on, so its kept-alive connection must stay open for the next poll, and
// it hears how its stream ended (here: server_shutting_down at the drain's end).
TEST_F(poll, a_draining_server_keeps_a_long_polls_connection_for_its_next_poll) {
  auto s = create(100000, 10);
  auto first = events(s, 0, 2000);
  ASSERT_FALSE(first["events"].empty());
  server.server().stop_accepting();
  auto page = c.request(
      "GET", "/v1/sessions/" + s + "/events?after=" + first["last_seq"].dump() + "&wait_ms=2000");
  ASSERT_EQ(page.status, 200u);
  EXPECT_NE(page.header("connection"), "close");
  server.engine().shutdown();  // the drain's end: running streams end with an error
  json last = json::object();
  for (int i = 0; i < 100 && !last.value("done", false); ++i) {
    auto r = c.request("GET", "/v1/sessions/" + s + "/events?after=" +
                                  json::parse(page.body)["last_seq"].dump() + "&wait_ms=2000");
    ASSERT_EQ(r.status, 200u) << "poll " << i;
    page = r;
    last = json::parse(r.body);
  }
  ASSERT_TRUE(last.value("done", false));
  EXPECT_EQ(last["events"].back()["type"], "error");
  EXPECT_EQ(last["events"].back()["code"], "server_shutting_down");
}

}  // namespace
}  // namespace streamgate::test
