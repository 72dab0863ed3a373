// Quotas, failover, circuit breakers and restarts against the real fake upstream over
// loopback HTTP: what the fake upstream's own counters say is what really happened.

#include "tests/integration/upstream_fixture.hpp"
#include "tools/fake_upstream/behaviour.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

namespace streamgate::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// A second provider on the same fake upstream, serving model "m" with another behaviour.
provider_entry second_provider(const gateway_config& g, const std::string& name,
                               const std::string& upstream_model) {
  auto p = g.providers.at(0);
  p.name = name;
  p.http.name = name;
  p.http.models["m"] = upstream_model;
  p.models = {"m"};
  return p;
}

// Routes "m" to the providers in order, each with its own quota pool of `max_concurrent`.
void route_with_pools(gateway_config& g, std::uint32_t max_concurrent) {
  g.sessions.max_attempts = 3;
  g.routes["m"] = {};
  for (auto& p : g.providers) {
    p.pool = p.name;
    g.pools[p.name].max_concurrent = max_concurrent;
    g.routes["m"].targets.push_back({p.name, 1});
  }
}

TEST(quota_upstream, an_upstream_429_fails_over_and_pauses_that_providers_pool) {
  upstream_fixture f{
      {{"m", "fake@status=429,retry_after=7"}}, {}, [](gateway_config& g) {
        g.providers.push_back(second_provider(g, "backup", "fake@chunks=4,chunk_size=6"));
        route_with_pools(g, 5);
      }};
  auto r = f.stream("m");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.text, fake::full_text(4, 6));  // the client saw only the delay
  EXPECT_TRUE(r.done);
  // The pause and the release reach the pool as messages, which may land just after the
  // client's [DONE] (seen once in CI): await them, bounded.
  nlohmann::json view;
  EXPECT_TRUE(eventually([&] {
    view = providers_by_name(f.server().engine());
    return view["fake"]["pool"]["paused_ms"].get<int>() > 6000 &&
           view["fake"]["pool"]["leases_in_use"] == 0;
  })) << view.dump();
  EXPECT_EQ(view["backup"]["attempts"]["succeeded"], 1);
  // While the pool is paused, requests go straight to the backup: the fake saw 1 + 3 requests.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(f.stream("m").done);
  EXPECT_EQ(f.upstream_stats()["requests_total"], 5);  // one 429, then four to the backup
  EXPECT_TRUE(f.settled());
}

TEST(quota_upstream, a_provider_that_is_down_opens_its_breaker_and_recovers_when_it_is_back) {
  auto port = unused_loopback_port();
  upstream_fixture f{{{"m", "fake@chunks=4,chunk_size=6"}}, {}, [&](gateway_config& g) {
                       auto down = second_provider(g, "down", "fake@chunks=3,chunk_size=5");
                       down.http.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
                       g.providers.insert(g.providers.begin(), down);
                       route_with_pools(g, 5);
                       g.breaker.failure_threshold = 2;
                       g.breaker.rate_window = 0;
                       g.breaker.cooldown = 300ms;
                     }};
  auto stream_via_failover = [&] {
    auto r = f.stream("m");
    EXPECT_EQ(r.text, fake::full_text(4, 6)) << r.error_code;  // failover to "fake"
  };
  stream_via_failover();
  stream_via_failover();
  // The engine opens the breaker and then tells the router, asynchronously: once it is open,
  // no later request tries "down".
  ASSERT_TRUE(eventually([&] {
    return providers_by_name(f.server().engine())["down"]["breaker"]["state"] == "open";
  }));
  stream_via_failover();
  stream_via_failover();
  auto view = providers_by_name(f.server().engine());
  EXPECT_EQ(view["down"]["breaker"]["state"], "open");
  EXPECT_EQ(view["down"]["attempts"]["failed"], 2);  // then the router stopped trying it

  // The upstream comes back on its address; after the cooldown one probe closes the breaker.
  fake::server_options o;
  o.port = port;
  fake::fake_server back{o};
  back.start();
  ASSERT_TRUE(eventually([&] {
    return providers_by_name(f.server().engine())["down"]["breaker"]["state"] == "half_open";
  }));
  auto r = f.stream("m");
  EXPECT_EQ(r.text, fake::full_text(3, 5));  // served by the recovered provider
  view = providers_by_name(f.server().engine());
  EXPECT_EQ(view["down"]["breaker"]["state"], "closed");
  // The fake counts a stream once its last write is done, which may be after we read it.
  EXPECT_TRUE(eventually([&] { return back.counters().streams_completed.load() == 1u; }));
}

TEST(quota_upstream, a_crashed_provider_actor_is_restarted_and_the_next_request_succeeds) {
  upstream_fixture f{{{"m", "fake@chunks=4,chunk_size=6"}}, {}, [](gateway_config& g) {
                       route_with_pools(g, 5);
                       g.restarts.backoff_initial = 20ms;
                     }};
  std::promise<bool> crashed;
  f.server().engine().crash(crash_target::provider, "fake",
                            [&](bool ok) { crashed.set_value(ok); });
  ASSERT_TRUE(crashed.get_future().get());
  ASSERT_TRUE(eventually([&] {
    auto p = providers_by_name(f.server().engine())["fake"];
    return p["restarts"] == 1 && p["state"] == "up";
  }));
  auto r = f.stream("m");
  EXPECT_EQ(r.text, fake::full_text(4, 6));
  EXPECT_TRUE(r.done);
}

TEST(quota_upstream,
     two_hundred_concurrent_requests_over_a_pool_of_ten_never_exceed_ten_upstream_streams) {
  upstream_fixture f{
      {{"m", "fake@chunks=5,chunk_size=4,interval_ms=5"}}, {}, [](gateway_config& g) {
        route_with_pools(g, 10);
        g.sessions.attempt_deadline = 60s;
        g.pools["fake"].queue_timeout = 60s;
      }};
  constexpr int clients = 200, threads = 8;
  std::atomic<int> complete{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      std::vector<std::unique_ptr<http_client>> cs;
      for (int i = 0; i < clients / threads; ++i) {
        cs.push_back(std::make_unique<http_client>(f.port(), 60s));
        cs.back()->open_stream("POST", "/v1/chat/completions", upstream_fixture::chat_body("m"));
      }
      for (auto& c : cs) {
        std::string last;
        while (auto ev = c->next_event()) last = ev->data;
        if (last == "[DONE]") ++complete;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(complete.load(), clients);
  // Read before GET /stats, whose own connection would count (the idle upstream
  // connections are still open: the driver keeps them for reuse).
  auto peak_connections = f.upstream().counters().peak_open_connections.load();
  auto stats = f.upstream_stats();
  EXPECT_EQ(stats["streams_completed"], clients);
  // Requests the upstream was serving at once: never more than the pool's 10. (The fake's
  // count of open TCP connections is not asserted: now and then curl opens an 11th while an
  // idle kept-alive one still counts as open on the fake's side.)
  EXPECT_LE(stats["peak_active_streams"].get<int>(), 10);
  EXPECT_LE(peak_connections, 10);
  EXPECT_EQ(stats["peak_active_streams"], 10);  // and the pool was used to the full
  EXPECT_TRUE(f.settled());
  EXPECT_EQ(providers_by_name(f.server().engine())["fake"]["pool"]["leases_in_use"], 0);
}

}  // namespace
}  // namespace streamgate::test
