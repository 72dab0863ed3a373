// Routing strategies and the router's view of provider health.

#include "actors/router.hpp"
#include "tests/support/test_coordinator_fixture.hpp"

namespace streamgate {
namespace {

provider_actor::behavior_type idle_provider(provider_actor::pointer) {
  return {[](open_atom, chat_request&, upstream_target&) -> upstream_actor { return {}; }};
}

route_config route_of(route_strategy s, std::vector<route_target> targets) {
  route_config r;
  r.strategy = s;
  r.targets = std::move(targets);
  return r;
}

TEST(order_candidates, weighted_round_robin_leads_in_proportion_and_interleaves) {
  auto r = route_of(route_strategy::weighted, {{"a", 5}, {"b", 1}, {"c", 1}});
  std::map<std::string, std::int64_t> current;
  std::string leaders;
  for (int i = 0; i < 7; ++i)
    leaders += r.targets[order_candidates(r, {0, 1, 2}, current, {})[0]].provider;
  EXPECT_EQ(leaders, "aabacaa");  // nginx's smooth sequence for 5:1:1
  // The rest follow in priority order as failover.
  auto order = order_candidates(r, {0, 1, 2}, current, {});
  EXPECT_EQ(order.size(), 3u);
}

TEST(order_candidates, least_loaded_puts_the_freest_pool_first) {
  auto r = route_of(route_strategy::least_loaded, {{"a", 1}, {"b", 1}, {"c", 1}});
  std::map<std::string, quota_gauges_ptr> gauges;
  for (auto name : {"a", "b", "c"}) {
    gauges[name] = std::make_shared<quota_gauges>();
    gauges[name]->limits.max_concurrent = 10;
  }
  gauges["a"]->leases_in_use = 9;
  gauges["b"]->leases_in_use = 2;
  gauges["c"]->leases_in_use = 5;
  std::map<std::string, std::int64_t> current;
  EXPECT_EQ(order_candidates(r, {0, 1, 2}, current, gauges), (std::vector<std::size_t>{1, 2, 0}));
  gauges["b"]->paused_ms = 1000;  // an upstream 429 pause makes it the last choice
  EXPECT_EQ(order_candidates(r, {0, 1, 2}, current, gauges), (std::vector<std::size_t>{2, 0, 1}));
}

class router_test : public test::coordinator_fixture {
 protected:
  void start(route_config route) {
    router_config rc;
    rc.routes["m"] = std::move(route);
    router = keep(sys->spawn(router_behavior, std::make_shared<route_table>(rc)));
    for (auto name : {"a", "b", "c"}) {
      caf::anon_send(router, provider_atom::value, std::string{name},
                     keep(sys->spawn(idle_provider)));
    }
    sched->run();
  }

  // The providers of a new plan (route_atom), or of a lookup (lookup_atom), in order.
  template <class Atom = route_atom>
  std::string plan_names(const std::string& model = "m") {
    caf::scoped_actor self{*sys};
    std::string out;
    self->send(router, Atom::value, model);
    sched->run();
    self->receive(
        [&](route_plan& p) {
          last_plan = p;
          for (auto& c : p.candidates) out += c.handle ? c.provider : "(null)";
        },
        caf::after(std::chrono::seconds(0)) >> [&] { out = "(no reply)"; });
    return out;
  }
  std::string lookup_names(const std::string& model = "m") {
    return plan_names<lookup_atom>(model);
  }

  router_actor router;
  route_plan last_plan;
};

TEST_F(router_test, priority_gives_the_configured_order) {
  start(route_of(route_strategy::priority, {{"a", 1}, {"b", 1}, {"c", 1}}));
  EXPECT_EQ(plan_names(), "abc");
  EXPECT_EQ(plan_names("other"), "");
}

TEST_F(router_test, skips_providers_that_are_down_or_whose_breaker_is_open) {
  start(route_of(route_strategy::priority, {{"a", 1}, {"b", 1}, {"c", 1}}));
  caf::anon_send(router, provider_atom::value, std::string{"a"}, provider_actor{});
  caf::anon_send(router, health_atom::value, std::string{"b"}, std::uint32_t{0});
  sched->run();
  EXPECT_EQ(plan_names(), "c");
  caf::anon_send(router, health_atom::value, std::string{"b"}, route_unlimited);
  sched->run();
  EXPECT_EQ(plan_names(), "bc");
}

TEST_F(router_test, a_half_open_provider_gets_only_its_probes) {
  start(route_of(route_strategy::priority, {{"a", 1}, {"b", 1}}));
  caf::anon_send(router, health_atom::value, std::string{"a"}, std::uint32_t{2});
  sched->run();
  EXPECT_EQ(plan_names(), "ab");
  EXPECT_EQ(plan_names(), "ab");
  EXPECT_EQ(plan_names(), "b");
}

}  // namespace
}  // namespace streamgate

namespace streamgate {
namespace {

TEST_F(router_test, a_plan_says_when_its_only_providers_are_restarting_not_down) {
  start(route_of(route_strategy::priority, {{"a", 1}}));
  caf::anon_send(router, provider_atom::value, std::string{"a"}, provider_actor{});
  sched->run();
  EXPECT_EQ(plan_names(), "");
  EXPECT_TRUE(last_plan.restarting);
  caf::anon_send(router, provider_atom::value, std::string{"a"});  // gave up restarting
  sched->run();
  EXPECT_EQ(plan_names(), "");
  EXPECT_FALSE(last_plan.restarting);
}

}  // namespace
}  // namespace streamgate

namespace streamgate {
namespace {

TEST_F(router_test, a_lookup_gives_current_handles_without_moving_the_round_robin) {
  start(route_of(route_strategy::weighted, {{"a", 5}, {"b", 1}, {"c", 1}}));
  std::string leaders;
  for (int i = 0; i < 7; ++i) {
    leaders += plan_names().front();
    EXPECT_EQ(lookup_names(), "abc");  // configured order, whoever leads next
  }
  EXPECT_EQ(leaders, "aabacaa");  // the same smooth sequence as without lookups
  EXPECT_EQ(coordinator_fixture::state_of<router_state>(router).table->view().plans, 7u);
}

TEST_F(router_test, a_lookup_takes_no_half_open_probe_and_skips_providers_that_are_down) {
  start(route_of(route_strategy::priority, {{"a", 1}, {"b", 1}, {"c", 1}}));
  caf::anon_send(router, health_atom::value, std::string{"a"}, std::uint32_t{1});
  caf::anon_send(router, provider_atom::value, std::string{"c"}, provider_actor{});
  sched->run();
  EXPECT_EQ(lookup_names(), "ab");
  EXPECT_EQ(lookup_names(), "ab");
  EXPECT_EQ(lookup_names("other"), "");
  EXPECT_EQ(plan_names(), "ab");  // the one probe is still there
  EXPECT_EQ(plan_names(), "b");
}

}  // namespace
}  // namespace streamgate
