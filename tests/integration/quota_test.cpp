// Quota pools seen from a client over real HTTP: 429 with Retry-After, the admin view live,
// and many concurrent requests squeezed through a small pool without exceeding it.

#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

namespace streamgate::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

gateway_config pooled_mock(std::uint32_t max_concurrent, std::chrono::milliseconds queue_timeout) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.providers[0].pool = "mock";
  cfg.pools["mock"].max_concurrent = max_concurrent;
  cfg.pools["mock"].queue_timeout = queue_timeout;
  return cfg;
}

json mock_pool(std::uint16_t port) {
  http_client c{port};
  auto r = c.request("GET", "/admin/providers");
  EXPECT_EQ(r.status, 200u);
  return json::parse(r.body)["providers"][0]["pool"];
}

TEST(quota, a_full_pool_answers_429_with_retry_after_once_the_queue_wait_is_over) {
  test_server server{pooled_mock(1, 300ms), test_server::admin_options()};
  http_client streaming{server.port()};
  streaming.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000, 5));
  ASSERT_TRUE(streaming.next_event().has_value());

  http_client waiting{server.port()};
  auto start = std::chrono::steady_clock::now();
  auto r = waiting.request("POST", "/v1/chat/completions", mock_body(false, 3));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);  // it waited in the queue first
  EXPECT_EQ(r.status, 429u) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "quota_exhausted");
  EXPECT_GE(std::stoi(r.header("retry-after")), 1);

  auto pool = mock_pool(server.port());
  EXPECT_EQ(pool["leases_in_use"], 1);
  EXPECT_EQ(pool["queue_length"], 0);
  EXPECT_EQ(pool["expired_total"], 1);
}

TEST(quota, the_admin_view_shows_leases_and_the_queue_live_and_nothing_held_afterwards) {
  test_server server{pooled_mock(1, 10s), test_server::admin_options()};
  http_client first{server.port()};
  first.open_stream("POST", "/v1/chat/completions", mock_body(true, 30, 10));
  ASSERT_TRUE(first.next_event().has_value());
  std::thread second{[port = server.port()] {
    http_client c{port};
    auto r = c.request("POST", "/v1/chat/completions", mock_body(false, 3));
    EXPECT_EQ(r.status, 200u);
  }};
  ASSERT_TRUE(eventually([&] { return mock_pool(server.port())["queue_length"] == 1; }));
  EXPECT_EQ(mock_pool(server.port())["leases_in_use"], 1);
  while (first.next_event()) {
  }
  second.join();
  ASSERT_TRUE(eventually([&] { return mock_pool(server.port())["leases_in_use"] == 0; }));
  EXPECT_EQ(mock_pool(server.port())["granted_total"], 2);
}

// The queue length as /metrics shows it (the admin view reads the same figures).
std::string queue_length_metric(std::uint16_t port) {
  http_client c{port};
  auto body = c.request("GET", "/metrics").body;
  const std::string series = R"(streamgate_quota_queue_length{pool="mock"} )";
  auto at = body.find(series);
  if (at == std::string::npos) return "(none)";
  return body.substr(at + series.size(), body.find('\n', at) - at - series.size());
}

TEST(quota, a_client_that_leaves_while_queued_gives_its_place_back_at_once) {
  auto cfg = pooled_mock(1, 30s);
  cfg.pools["mock"].max_queue = 1;
  test_server server{cfg, test_server::admin_options()};
  http_client streaming{server.port()};
  streaming.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000, 5));
  ASSERT_TRUE(streaming.next_event().has_value());
  auto raw_stream_request = [] {
    auto body = mock_body(true, 3);
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  {
    http_client leaving{server.port()};
    leaving.send_raw(raw_stream_request());
    ASSERT_TRUE(eventually([&] { return mock_pool(server.port())["queue_length"] == 1; }));
    EXPECT_EQ(queue_length_metric(server.port()), "1");
    leaving.close();
  }
  // Well before the 30 s queue timeout: the place is free as soon as the session has ended.
  ASSERT_TRUE(eventually([&] { return mock_pool(server.port())["queue_length"] == 0; }, 3s));
  EXPECT_EQ(queue_length_metric(server.port()), "0");
  // max_queue is 1: the next request waits in the queue instead of being refused.
  http_client next{server.port()};
  next.send_raw(raw_stream_request());
  EXPECT_TRUE(eventually([&] { return mock_pool(server.port())["queue_length"] == 1; }));
}

// The bound itself (never more than 10 upstreams) is asserted where it can be observed
// exactly: step by step under the test coordinator (session_quota_test) and by the fake
// upstream's own counters (quota_upstream_test). Here: everything completes, nothing is held.
TEST(quota, two_hundred_concurrent_requests_through_a_pool_of_ten_all_complete) {
  test_server server{pooled_mock(10, 60s), test_server::admin_options()};
  constexpr int clients = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      // 25 requests per thread, all in flight at once on their own connections.
      std::vector<std::unique_ptr<http_client>> cs;
      for (int i = 0; i < clients / 8; ++i) {
        cs.push_back(std::make_unique<http_client>(server.port(), 60s));
        // 100 ms a stream: long enough that more than 10 are open at once even when a
        // loaded machine opens the connections slowly (at 25 ms one run saw no queueing).
        cs.back()->open_stream("POST", "/v1/chat/completions", mock_body(true, 5, 20));
      }
      for (auto& c : cs) {
        std::string last;
        while (auto ev = c->next_event()) last = ev->data;
        if (last == "[DONE]") ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), clients);
  // A client has its [DONE] a moment before its session gives the lease back to the pool.
  EXPECT_TRUE(eventually([&] { return mock_pool(server.port())["leases_in_use"] == 0; }));
  auto pool = mock_pool(server.port());
  EXPECT_EQ(pool["granted_total"], clients);
  EXPECT_GT(pool["refused_total"], 0);  // they did have to queue
  EXPECT_EQ(pool["expired_total"], 0);
  EXPECT_EQ(pool["leases_in_use"], 0);
  EXPECT_EQ(pool["queue_length"], 0);
}

}  // namespace
}  // namespace streamgate::test
