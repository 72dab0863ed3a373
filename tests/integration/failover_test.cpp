// Failover, circuit breakers and restarts seen from clients over real HTTP, with mock
// providers: one that fails, one that fails and then recovers, one crashed on purpose.

#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <thread>

namespace streamgate::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

provider_entry provider(std::string name, std::string fail = {}, std::uint32_t fail_first = 0) {
  provider_entry p;
  p.name = std::move(name);
  p.models = {"m"};
  p.mock.tokens = 3;
  p.mock.first_token_ms = 0;
  p.mock.interval_ms = 1;
  p.mock.fail = std::move(fail);
  p.mock.fail_first = fail_first;
  p.pool = p.name;
  return p;
}

gateway_config config_of(std::vector<provider_entry> providers, route_strategy strategy) {
  gateway_config cfg;
  for (auto& p : providers) {
    cfg.pools[p.name].max_concurrent = p.name == "steady" ? 10 : 5;
    cfg.routes["m"].targets.push_back({p.name, 1});
  }
  cfg.routes["m"].strategy = strategy;
  cfg.providers = std::move(providers);
  cfg.breaker.failure_threshold = 3;
  cfg.breaker.rate_window = 0;
  cfg.breaker.cooldown = 60s;
  return cfg;
}

std::map<std::string, json> admin_view(std::uint16_t port) {
  http_client c{port};
  auto r = c.request("GET", "/admin/providers");
  std::map<std::string, json> out;
  auto all = json::parse(r.body);
  for (auto& p : all["providers"]) out[p["name"].get<std::string>()] = p;
  return out;
}

std::string chat(bool stream = false) {
  return json{
      {"model", "m"}, {"stream", stream}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}
      .dump();
}

std::string content_of(const http_reply& r) {
  return json::parse(r.body)["choices"][0]["message"]["content"];
}

TEST(failover, a_failing_provider_is_failed_over_and_its_breaker_opens) {
  test_server server{config_of({provider("failing", "upstream_server_error"), provider("steady")},
                               route_strategy::priority),
                     test_server::admin_options()};
  http_client c{server.port()};
  for (int i = 0; i < 10; ++i) {
    auto r = c.request("POST", "/v1/chat/completions", chat());
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(content_of(r), mock_text(3));  // the client saw only the delay
  }
  auto view = admin_view(server.port());
  EXPECT_EQ(view["failing"]["breaker"]["state"], "open");
  EXPECT_EQ(view["failing"]["attempts"]["failed"], 3);  // then the router skipped it
  EXPECT_EQ(view["steady"]["attempts"]["succeeded"], 10);
  EXPECT_EQ(view["failing"]["pool"]["leases_in_use"], 0);
}

TEST(failover, a_provider_that_recovers_closes_its_breaker_after_a_probe) {
  auto cfg = config_of({provider("flaky", "upstream_server_error", 3), provider("steady")},
                       route_strategy::priority);
  cfg.breaker.cooldown = 200ms;
  test_server server{cfg, test_server::admin_options()};
  http_client c{server.port()};
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(c.request("POST", "/v1/chat/completions", chat()).status, 200u);
  EXPECT_EQ(admin_view(server.port())["flaky"]["breaker"]["state"], "open");
  ASSERT_TRUE(eventually(
      [&] { return admin_view(server.port())["flaky"]["breaker"]["state"] == "half_open"; }));
  auto r = c.request("POST", "/v1/chat/completions", chat());
  EXPECT_EQ(r.status, 200u);
  auto flaky = admin_view(server.port())["flaky"];
  EXPECT_EQ(flaky["breaker"]["state"], "closed");
  EXPECT_EQ(flaky["attempts"]["succeeded"], 1);  // the probe
  EXPECT_EQ(flaky["breaker"]["transitions"], 3);
}

// The acceptance run, with mock providers: 1,000 requests, one provider failing, one
// crashed mid-run; every request ends in success or one explicit error, no lease stays held.
TEST(failover, a_thousand_requests_with_one_provider_failing_and_one_crashing) {
  auto cfg = config_of(
      {provider("failing", "upstream_server_error"), provider("crashy"), provider("steady")},
      route_strategy::least_loaded);
  cfg.restarts.backoff_initial = 50ms;
  test_server server{cfg, test_server::admin_options()};
  constexpr int threads = 10, per_thread = 100;
  std::atomic<int> ok{0}, explicit_errors{0}, other{0};
  std::atomic<int> sent{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      http_client c{server.port(), 30s};
      for (int i = 0; i < per_thread; ++i) {
        auto r = c.request("POST", "/v1/chat/completions", chat());
        ++sent;
        if (r.status == 200 && content_of(r) == mock_text(3)) {
          ++ok;
        } else if (r.status >= 400 &&
                   !json::parse(r.body)["error"]["code"].get<std::string>().empty()) {
          ++explicit_errors;
        } else {
          ++other;
        }
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return sent.load() >= 300; }, 30s));
  http_client admin{server.port()};
  EXPECT_EQ(admin.request("POST", "/admin/providers/crashy/crash").status, 202u);
  for (auto& t : ts) t.join();

  EXPECT_EQ(ok + explicit_errors, threads * per_thread);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(ok.load(), threads * per_thread * 9 / 10);
  ASSERT_TRUE(eventually([&] {
    for (auto& [name, p] : admin_view(server.port())) {
      if (p["pool"]["leases_in_use"] != 0 || p["pool"]["queue_length"] != 0) return false;
    }
    return true;
  }));
  auto view = admin_view(server.port());
  EXPECT_EQ(view["crashy"]["restarts"], 1);
  EXPECT_EQ(view["failing"]["breaker"]["state"], "open");
}

}  // namespace
}  // namespace streamgate::test
