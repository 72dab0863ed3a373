// Supervision seen from clients on a real server: the router and a quota pool crashed on
// purpose (as `make chaos` does) are restarted with their state, streams go on, the pool's
// limit holds across the restart, and /readyz says when nothing can be served.

#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace streamgate::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// The whole answer of a streamed chat completion, or the error code that ended it.
std::string stream_text(std::uint16_t port, unsigned tokens, unsigned interval_ms = 0) {
  http_client c{port};
  auto head = c.open_stream("POST", "/v1/chat/completions", mock_body(true, tokens, interval_ms));
  if (head.status != 200) return "status " + std::to_string(head.status);
  std::string text;
  while (auto ev = c.next_event()) {
    auto j = json::parse(ev->data, nullptr, false);
    if (j.is_discarded()) continue;
    if (j.contains("error")) return "error " + j["error"]["code"].get<std::string>();
    auto& d = j["choices"][0]["delta"];
    if (d.contains("content")) text += d["content"].get<std::string>();
  }
  return text;
}

TEST(supervision, readyz_is_ready_on_the_mock_provider_and_healthz_stays_separate) {
  test_server server;
  http_client c{server.port()};
  auto r = c.request("GET", "/readyz");
  EXPECT_EQ(r.status, 200u);
  auto j = json::parse(r.body);
  EXPECT_EQ(j["status"], "ready");
  EXPECT_EQ(j["routable_providers"], 1);
  EXPECT_EQ(c.request("GET", "/healthz").status, 200u);
  EXPECT_EQ(c.request("POST", "/readyz").status, 405u);
}

TEST(supervision, a_crashed_router_is_restarted_and_streams_go_on) {
  test_server server{gateway_config::with_mock_provider(), test_server::admin_options()};
  http_client c{server.port()};
  auto r = c.request("POST", "/admin/router/crash");
  ASSERT_EQ(r.status, 202u) << r.body;
  EXPECT_EQ(json::parse(r.body)["crashed"], true);
  const std::string restarts = R"(streamgate_actor_restarts_total{actor="router"})";
  EXPECT_TRUE(eventually([&] { return metric(server.port(), restarts) == 1; }));
  EXPECT_EQ(stream_text(server.port(), 5), mock_text(5));
  EXPECT_EQ(c.request("GET", "/readyz").status, 200u);
}

TEST(supervision, a_pool_crashed_under_a_stream_keeps_its_limit_and_gives_the_lease_back) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.providers[0].pool = "mock";
  cfg.pools["mock"].max_concurrent = 1;
  cfg.pools["mock"].queue_timeout = 10s;
  test_server server{cfg, test_server::admin_options()};
  // One stream holds the only lease.
  http_client first{server.port()};
  ASSERT_EQ(first.open_stream("POST", "/v1/chat/completions", mock_body(true, 100, 10)).status,
            200u);
  std::string first_text;
  bool first_done = false;
  auto take = [&](const sse_event& ev) {
    first_done = first_done || ev.data == "[DONE]";
    auto j = json::parse(ev.data, nullptr, false);
    if (!j.is_discarded() && j["choices"][0]["delta"].contains("content"))
      first_text += j["choices"][0]["delta"]["content"].get<std::string>();
  };
  auto ev = first.next_event();
  ASSERT_TRUE(ev.has_value());
  take(*ev);
  http_client admin{server.port()};
  ASSERT_EQ(admin.request("POST", "/admin/pools/mock/crash").status, 202u);
  EXPECT_EQ(admin.request("POST", "/admin/pools/none/crash").status, 404u);
  EXPECT_TRUE(eventually([&] {
    return metric(server.port(), R"(streamgate_actor_restarts_total{actor="pool:mock"})") == 1;
  }));
  // A second stream must wait for the first: the restarted pool still counts its lease.
  std::string second_text;
  std::thread second{[&] { second_text = stream_text(server.port(), 3); }};
  EXPECT_TRUE(eventually(
      [&] { return metric(server.port(), R"(streamgate_quota_queue_length{pool="mock"})") == 1; }));
  while (auto next = first.next_event()) take(*next);
  second.join();
  EXPECT_TRUE(first_done);
  EXPECT_EQ(first_text, mock_text(100));
  EXPECT_EQ(second_text, mock_text(3));
  EXPECT_TRUE(eventually([&] {
    return metric(server.port(), R"(streamgate_quota_leases_in_use{pool="mock"})") == 0;
  }));
}

TEST(supervision, readyz_answers_503_while_no_provider_can_be_routed_to) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.restarts.max_restarts = 0;  // the first crash marks the provider down for good
  test_server server{cfg, test_server::admin_options()};
  http_client c{server.port()};
  ASSERT_EQ(c.request("POST", "/admin/providers/mock/crash").status, 202u);
  http_reply r;
  EXPECT_TRUE(eventually([&] {
    r = c.request("GET", "/readyz");
    return r.status == 503;
  }));
  auto j = json::parse(r.body);
  EXPECT_EQ(j["status"], "not_ready");
  EXPECT_EQ(j["engine"], "up");
  EXPECT_EQ(j["routable_providers"], 0);
  EXPECT_EQ(c.request("GET", "/healthz").status, 200u);  // the process itself answers
}

}  // namespace
}  // namespace streamgate::test
