// A session whose router, quota pool or provider answers with an error instead of a plan, a
// lease or a stream: each ends in one explicit terminal error, never a hang.

#include "tests/actors/session_fixture.hpp"

namespace streamgate::test {
namespace {

// A router that plans `plan` for route (or fails), and answers lookup (the refresh of a plan
// whose provider actor is gone) with an error, or with no provider at all (it restarts).
router_actor::behavior_type failing_router(router_actor::pointer, route_plan plan, bool fail_route,
                                           bool fail_lookup) {
  return {
      [plan, fail_route](route_atom, std::string&) -> caf::result<route_plan> {
        if (fail_route) return caf::make_error(caf::sec::runtime_error, "router broke");
        return plan;
      },
      [fail_lookup](lookup_atom, std::string&) -> caf::result<route_plan> {
        if (fail_lookup) return caf::make_error(caf::sec::runtime_error, "router broke");
        return route_plan{};
      },
      [](provider_atom, std::string&, provider_actor&) {},
      [](provider_atom, std::string&, provider_actor&, upstream_opener_ptr&) {},
      [](provider_atom, std::string&) {},
      [](pool_atom, std::string&, quota_pool_actor&) {},
      [](health_atom, std::string&, std::uint32_t) {},
  };
}

// A provider that refuses to open any stream.
provider_actor::behavior_type refusing_provider(provider_actor::pointer) {
  return {[](open_atom, chat_request&, upstream_target&) -> caf::result<upstream_actor> {
    return caf::make_error(caf::sec::runtime_error, "no streams today");
  }};
}

// A quota pool that answers every acquire with an error (as a pool that broke would).
quota_pool_actor::behavior_type broken_pool(quota_pool_actor::pointer) {
  return {
      [](acquire_atom, std::uint32_t) -> caf::result<quota_lease> {
        return caf::make_error(caf::sec::runtime_error, "pool broke");
      },
      [](release_atom, std::uint64_t) {},
      [](reclaim_atom) -> caf::result<quota_lease> {
        return caf::make_error(caf::sec::runtime_error, "pool broke");
      },
      [](withdraw_atom) {},
      [](pause_atom, std::uint32_t) {},
      [](rejoin_atom, std::uint32_t, std::uint32_t) {},
  };
}

class session_routing_errors : public session_fixture {
 protected:
  void use_router(route_plan plan, bool fail_route, bool fail_lookup = true) {
    router = keep(sys->spawn(failing_router, std::move(plan), fail_route, fail_lookup));
    sched->run();
  }

  // A plan whose only provider actor has already exited (crashed since it was planned).
  route_plan plan_with_a_dead_provider() {
    auto dead = sys->spawn(refusing_provider);
    caf::anon_send_exit(dead, caf::exit_reason::kill);
    sched->run();
    route_plan plan;
    plan.candidates.push_back({"gone", dead, {}, nullptr});
    return plan;
  }
};

TEST_F(session_routing_errors, a_router_that_fails_ends_the_session_with_internal_error) {
  use_router({}, true, true);
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(20ms);
  ASSERT_EQ(sink->terminal_count(), 1u);
  EXPECT_EQ(sink->last().code, error_code::internal_error);
  EXPECT_NE(sink->last().text.find("routing failed"), std::string::npos) << sink->last().text;
  EXPECT_EQ(state_of(s).phase, session_phase::failed);
  EXPECT_EQ(registry.active.load(), 0);
}

TEST_F(session_routing_errors, a_provider_that_cannot_open_a_stream_is_an_upstream_error) {
  route({{"refuser", keep(sys->spawn(refusing_provider))}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(20ms);
  ASSERT_EQ(sink->terminal_count(), 1u);
  EXPECT_EQ(sink->last().code, error_code::upstream_error);
  EXPECT_NE(sink->last().text.find("provider 'refuser' could not open a stream"), std::string::npos)
      << sink->last().text;
  EXPECT_EQ(state_of(s).phase, session_phase::failed);
}

// The provider actor in the plan is gone and the router cannot say what replaced it: one
// upstream_error that names the routing failure.
TEST_F(session_routing_errors, a_dead_provider_and_a_failed_refresh_end_with_one_error) {
  use_router(plan_with_a_dead_provider(), false, true);
  auto sink = std::make_shared<recording_sink>();
  start(sink);
  advance(20ms);
  ASSERT_EQ(sink->terminal_count(), 1u);
  EXPECT_EQ(sink->last().code, error_code::upstream_error);
  EXPECT_NE(sink->last().text.find("routing failed"), std::string::npos) << sink->last().text;
}

// The provider actor in the plan is gone and the refreshed plan does not have it yet (it is
// being restarted): the client hears that the provider is restarting.
TEST_F(session_routing_errors, a_dead_provider_that_is_not_back_yet_is_reported_as_restarting) {
  use_router(plan_with_a_dead_provider(), false, false);
  auto sink = std::make_shared<recording_sink>();
  start(sink);
  advance(20ms);
  ASSERT_EQ(sink->terminal_count(), 1u);
  EXPECT_EQ(sink->last().code, error_code::upstream_error);
  EXPECT_NE(sink->last().text.find("provider 'gone' is restarting"), std::string::npos)
      << sink->last().text;
}

// A pool that answers with an error counts as a pool without room: the session moves on to
// the next candidate and, with none left, gives up with quota_exhausted instead of waiting.
TEST_F(session_routing_errors, a_broken_pool_is_a_pool_without_room) {
  auto pool = keep(sys->spawn(broken_pool));
  route({{"limited", mock({3, 0, 0}), pool}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(20ms);
  ASSERT_EQ(sink->terminal_count(), 1u);
  EXPECT_EQ(sink->last().code, error_code::quota_exhausted);
  EXPECT_EQ(sink->text(), "");
  EXPECT_EQ(state_of(s).phase, session_phase::failed);

  // With a second provider that has no pool, the broken pool's candidate is skipped.
  route({{"limited", mock({3, 0, 0}), pool}, {"free", mock({3, 0, 0})}});
  auto sink2 = std::make_shared<recording_sink>();
  start(sink2);
  advance(20ms);
  ASSERT_EQ(sink2->terminal_count(), 1u);
  EXPECT_EQ(sink2->last().kind, event_kind::finish);
  EXPECT_EQ(sink2->text(), mock_text(3));
}

}  // namespace
}  // namespace streamgate::test
