// The engine's circuit breakers and quota pools under the test coordinator.

#include "supervision/engine.hpp"
#include "actors/quota_pool.hpp"
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
    links.registry = &registry;
    engine = keep(sys->spawn(engine_behavior, cfg, links));
    sched->run();
    router = state_of<engine_state, engine_impl>(engine).router;
  }

  bool crash(crash_target what, const std::string& name = "") {
    caf::scoped_actor self{*sys};
    self->send(engine, crash_atom::value, what, name);
    sched->run();
    bool ok = false;
    self->receive([&](bool b) { ok = b; }, caf::after(0s) >> [] {});
    return ok;
  }

  engine_state& engine_st() { return state_of<engine_state, engine_impl>(engine); }

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

  std::map<std::string, std::uint32_t> admits() { return engine_st().routes->view().admits; }

  void outcome(const std::string& name, bool ok) {
    caf::anon_send(engine, outcome_atom::value, name, ok);
    sched->run();
  }

  session_registry registry;
  engine_links links;
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
  EXPECT_EQ(engine_st().routes->view().config.pools.size(), 2u);
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

TEST_F(engine_test, a_crashed_router_is_restarted_knowing_every_provider_and_breaker) {
  outcome("a", false);
  outcome("a", false);  // a's breaker opens
  ASSERT_EQ(links.router->get(), router);
  EXPECT_TRUE(crash(crash_target::router));
  auto fresh = links.router->get();
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh, router);  // sessions and the gateway ask the new one from now on
  EXPECT_EQ(engine_st().router, fresh);
  // It routes by the engine's table, which outlived the crash.
  auto& table = state_of<router_state>(fresh).table;
  EXPECT_EQ(table, engine_st().routes);
  auto rs = table->view();
  ASSERT_EQ(rs.providers.size(), 2u);
  EXPECT_EQ(rs.providers["a"], engine_st().providers["a"].handle);
  EXPECT_EQ(rs.providers["b"], engine_st().providers["b"].handle);
  ASSERT_EQ(rs.admits.count("a"), 1u);
  EXPECT_EQ(rs.admits["a"], 0u);  // still open: not routed to
  EXPECT_EQ(rs.admits.count("b"), 0u);
  EXPECT_EQ(rs.config.pools.size(), 2u);
  EXPECT_EQ(rs.config.routes.at("m").targets.size(), 2u);
}

TEST_F(engine_test, a_crashed_pool_is_restarted_with_its_leases_held_and_the_router_follows) {
  auto& pools = engine_st().pools;
  auto old = pools.at("a").handle;
  // A holder takes a lease from the pool, which then crashes.
  caf::scoped_actor holder{*sys};
  holder->send(old, acquire_atom::value, std::uint32_t{0});
  sched->run();
  quota_lease lease;
  holder->receive([&](quota_lease& l) { lease = l; }, caf::after(0s) >> [] {});
  ASSERT_TRUE(lease.granted);
  EXPECT_TRUE(crash(crash_target::pool, "a"));
  auto fresh = pools.at("a").handle;
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh, old);
  EXPECT_EQ(engine_st().routes->view().config.pools.at("a"), fresh);
  auto& ps = state_of<quota_pool_state, quota_pool_impl>(fresh);
  EXPECT_EQ(ps.reserved, 1u);  // the holder's lease still counts
  EXPECT_EQ(pools.at("a").gauges->leases_in_use.load(), 1);
  EXPECT_EQ(pools.at("a").record.restarts, 1u);
  EXPECT_EQ(provider("a")["pool"]["leases_in_use"], 1);
  EXPECT_FALSE(crash(crash_target::pool, "nope"));
}

TEST_F(engine_test, readiness_counts_the_providers_the_router_may_use) {
  EXPECT_TRUE(links.vitals->up.load());
  EXPECT_EQ(links.vitals->routable.load(), 2u);
  outcome("a", false);
  outcome("a", false);
  EXPECT_EQ(links.vitals->routable.load(), 1u);  // a's breaker is open
  EXPECT_TRUE(crash(crash_target::provider, "b"));
  EXPECT_EQ(links.vitals->routable.load(), 0u);  // b is restarting
  advance(200ms);
  EXPECT_EQ(links.vitals->routable.load(), 1u);
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
  auto engine = keep(sys->spawn(engine_behavior, gc, engine_links{&registry}));
  sched->run();
  auto& st = state_of<engine_state, engine_impl>(engine);
  ASSERT_EQ(st.pools.size(), 1u);
  auto pools = st.routes->view().config.pools;
  EXPECT_EQ(pools.at("a"), pools.at("b"));
  EXPECT_EQ(pools.count("c"), 0u);  // no quota: unlimited, no pool in the way
}

TEST_F(engine_pool_test, past_its_restart_budget_a_router_crash_stops_the_engine) {
  gateway_config gc;
  provider_entry p;
  p.name = "a";
  p.models = {"m"};
  gc.providers.push_back(p);
  gc.restarts.max_restarts = 1;
  session_registry registry;
  engine_links links{&registry};
  auto engine = sys->spawn(engine_behavior, gc, links);
  sched->run();
  caf::error reason;
  bool down = false;
  caf::actor_cast<caf::abstract_actor*>(engine)->attach_functor([&](const caf::error& e) {
    down = true;
    reason = e;
  });
  auto crash_router = [&] {
    caf::anon_send(engine, crash_atom::value, crash_target::router, std::string{});
    sched->run();
  };
  crash_router();
  EXPECT_FALSE(down);  // the first crash is within the budget: restarted
  crash_router();
  EXPECT_TRUE(down);  // the second is not: the engine stops, and its owner hears why
  EXPECT_EQ(reason, caf::sec::runtime_error);
}

}  // namespace
}  // namespace streamgate
