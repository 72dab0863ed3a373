// The engine's circuit breakers and quota pools under the test coordinator.

#include "supervision/engine.hpp"
#include "actors/router.hpp"
#include "actors/session_registry.hpp"
#include "tests/support/test_coordinator_fixture.hpp"

#include <nlohmann/json.hpp>

namespace streamgate {
namespace {

using namespace std::chrono_literals;

class engine_test : public test::coordinator_fixture {
 protected:
  engine_test() {
    gateway_config cfg;
    for (auto name : {"a", "b"}) {
      provider_entry p;
      p.name = name;
      p.models = {"m"};
      p.pool = name;
      cfg.providers.push_back(p);
      cfg.pools[name].max_concurrent = 4;
    }
    cfg.breaker.failure_threshold = 2;
    cfg.breaker.rate_window = 0;
    cfg.breaker.cooldown = 1s;
    cfg.breaker.half_open_probes = 1;
    engine = keep(sys->spawn(engine_behavior, cfg, &registry));
    sched->run();
    router = state_of<engine_state, engine_impl>(engine).router;
  }

  nlohmann::json provider(const std::string& name) {
    caf::scoped_actor self{*sys};
    self->send(engine, status_atom::value);
    sched->run();
    nlohmann::json out;
    self->receive(
        [&](std::string& text) {
          for (auto& p : nlohmann::json::parse(text))
            if (p["name"] == name) out = p;
        },
        caf::after(0s) >> [] {});
    return out;
  }

  std::map<std::string, std::uint32_t>& admits() { return state_of<router_state>(router).admits; }

  void outcome(const std::string& name, bool ok) {
    caf::anon_send(engine, outcome_atom::value, name, ok);
    sched->run();
  }

  session_registry registry;
  engine_actor engine;
  router_actor router;
};

TEST_F(engine_test, the_admin_view_shows_breaker_and_pool_per_provider) {
  auto a = provider("a");
  EXPECT_EQ(a["breaker"]["state"], "closed");
  EXPECT_EQ(a["pool"]["name"], "a");
  EXPECT_EQ(a["pool"]["max_concurrent"], 4);
  EXPECT_EQ(a["pool"]["leases_in_use"], 0);
  EXPECT_EQ(a["pool"]["queue_length"], 0);
  EXPECT_EQ(a["pool"]["rpm_used"], 0);
  EXPECT_EQ(a["restarts"], 0);
  EXPECT_EQ(state_of<router_state>(router).config.pools.size(), 2u);
}

TEST_F(engine_test, failures_open_the_breaker_and_the_router_skips_the_provider_until_it_recovers) {
  outcome("a", false);
  EXPECT_EQ(admits().count("a"), 0u);
  outcome("a", false);
  EXPECT_EQ(provider("a")["breaker"]["state"], "open");
  ASSERT_EQ(admits().count("a"), 1u);
  EXPECT_EQ(admits()["a"], 0u);

  sched->advance_time(1s);
  sched->run();
  EXPECT_EQ(provider("a")["breaker"]["state"], "half_open");
  EXPECT_EQ(admits()["a"], 1u);  // one probe

  outcome("a", true);
  EXPECT_EQ(provider("a")["breaker"]["state"], "closed");
  EXPECT_EQ(admits().count("a"), 0u);  // no limit
  EXPECT_EQ(provider("a")["breaker"]["transitions"], 3);
  EXPECT_EQ(provider("b")["breaker"]["state"], "closed");
}

TEST_F(engine_test, a_failed_probe_opens_the_breaker_again) {
  outcome("b", false);
  outcome("b", false);
  sched->advance_time(1s);
  sched->run();
  outcome("b", false);
  EXPECT_EQ(provider("b")["breaker"]["state"], "open");
  EXPECT_EQ(admits()["b"], 0u);
  EXPECT_EQ(provider("b")["attempts"]["failed"], 3);
}

}  // namespace
}  // namespace streamgate

namespace streamgate {
namespace {

using engine_pool_test = test::coordinator_fixture;

TEST_F(engine_pool_test, providers_naming_one_quota_key_share_one_pool) {
  gateway_config gc;
  for (auto name : {"a", "b", "c"}) {
    provider_entry p;
    p.name = name;
    p.models = {"m"};
    p.pool = std::string{name} == "c" ? "" : "shared";
    gc.providers.push_back(p);
  }
  gc.pools["shared"].max_concurrent = 2;
  session_registry registry;
  auto engine = keep(sys->spawn(engine_behavior, gc, &registry));
  sched->run();
  auto& st = state_of<engine_state, engine_impl>(engine);
  ASSERT_EQ(st.pools.size(), 1u);
  auto& rs = state_of<router_state>(st.router);
  EXPECT_EQ(rs.config.pools.at("a"), rs.config.pools.at("b"));
  EXPECT_EQ(rs.config.pools.count("c"), 0u);  // no quota: unlimited, no pool in the way
}

}  // namespace
}  // namespace streamgate
