// The session logs' global budget seen from clients and /metrics on a real server: a stream
// whose log outgrows the budget ends with log_budget_exceeded, an ended session evicted for a
// newer one answers session_not_found, and the bytes gauge goes back to 0.

#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace streamgate::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string log_bytes = "streamgate_session_log_bytes";
const std::string evicted_running = R"(streamgate_session_log_evictions_total{state="running"})";
const std::string evicted_ended = R"(streamgate_session_log_evictions_total{state="ended"})";

gateway_config budgeted(std::uint64_t budget, std::chrono::milliseconds resume_window) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.log_budget_bytes = budget;
  cfg.sessions.resume_window = resume_window;
  return cfg;
}

std::string start_session(std::uint16_t port, unsigned tokens) {
  http_client c{port};
  auto r = c.request("POST", "/v1/sessions", mock_body(false, tokens));
  EXPECT_EQ(r.status, 201u) << r.body;
  return json::parse(r.body)["session"];
}

// Long-polls a session to its terminal event; the last poll's body.
json poll_to_end(std::uint16_t port, const std::string& session) {
  http_client c{port};
  std::uint64_t after = 0;
  for (int i = 0; i < 1000; ++i) {
    auto r = c.request(
        "GET", "/v1/sessions/" + session + "/events?wait_ms=5000&after=" + std::to_string(after));
    if (r.status != 200) return json{{"status", r.status}, {"body", r.body}};
    auto j = json::parse(r.body);
    after = j["last_seq"];
    if (j["done"] == true) return j;
  }
  return {};
}

TEST(log_budget, a_stream_whose_log_outgrows_the_budget_ends_with_log_budget_exceeded) {
  auto options = test_server::default_options();
  options.max_pending_bytes = 64 << 20;  // this client may fall behind: not a slow consumer
  test_server server{budgeted(1 << 20, 30s), options};
  auto before = metric(server.port(), evicted_running);
  http_client c{server.port()};
  auto head = c.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000));
  ASSERT_EQ(head.status, 200u);
  std::string last;
  int chunks = 0;
  while (auto ev = c.next_event()) {
    last = ev->data;
    ++chunks;
  }
  EXPECT_NE(last.find("\"log_budget_exceeded\""), std::string::npos) << last;
  EXPECT_GT(chunks, 1000);
  EXPECT_LT(chunks, 100000);
  // Counted by the session after it logged the terminal event, which the client may read first.
  EXPECT_TRUE(eventually([&] { return metric(server.port(), evicted_running) == before + 1; }));
  // Gone at once, not kept for a resume: its memory is back.
  auto session = head.header("x-streamgate-session");
  http_client again{server.port()};
  // A resume that races the session's end (found, then gone before the attach) is a 404 as
  // well, not a dropped connection: under ThreadSanitizer's timing it often is that race.
  http_reply gone;
  EXPECT_TRUE(eventually(
      [&] {
        gone = again.request("GET", "/v1/sessions/" + session + "/events");
        return gone.status == 404;
      },
      30s))
      << gone.status << " " << gone.body.substr(0, 300);
  EXPECT_TRUE(eventually([&] { return metric(server.port(), log_bytes) == 0; }, 30s));
}

TEST(log_budget, ended_sessions_give_way_oldest_first_and_the_gauge_returns_to_zero) {
  // 3000 tokens hold about 450 KB: two ended logs fit in 1 MiB, a third does not.
  test_server server{budgeted(1 << 20, 5s), test_server::default_options()};
  auto before = metric(server.port(), evicted_ended);
  auto oldest = start_session(server.port(), 3000);
  ASSERT_EQ(poll_to_end(server.port(), oldest)["done"], true);
  auto second = start_session(server.port(), 3000);
  ASSERT_EQ(poll_to_end(server.port(), second)["done"], true);
  EXPECT_GT(metric(server.port(), log_bytes), 800e3);
  auto newest = start_session(server.port(), 3000);
  auto last = poll_to_end(server.port(), newest);
  ASSERT_EQ(last["done"], true);
  EXPECT_EQ(last["events"].back()["type"], "done");  // the running one streamed to the end
  // The oldest session counts its own eviction when its message arrives.
  EXPECT_TRUE(eventually([&] { return metric(server.port(), evicted_ended) == before + 1; }));
  http_client c{server.port()};
  http_reply evicted;
  EXPECT_TRUE(eventually([&] {
    evicted = c.request("GET", "/v1/sessions/" + oldest + "/events");
    return evicted.status == 404;
  }));
  EXPECT_EQ(json::parse(evicted.body)["error"]["code"], "session_not_found");
  EXPECT_EQ(c.request("GET", "/v1/sessions/" + second + "/events").status, 200u);
  // The others expire with their resume window; every byte comes back.
  EXPECT_TRUE(eventually([&] { return metric(server.port(), log_bytes) == 0; }, 15s));
  EXPECT_EQ(metric(server.port(), "streamgate_session_live"), 0);
}

}  // namespace
}  // namespace streamgate::test
