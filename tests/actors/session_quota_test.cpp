// Sessions drawing leases from quota pools: room first, then the queue; release on every end;
// failover bounded by attempts and a deadline; outcomes reported to the circuit breakers.

#include "actors/quota_pool.hpp"
#include "tests/actors/session_fixture.hpp"

namespace streamgate {
namespace {

using namespace std::chrono_literals;
using test::recording_sink;

struct outcome {
  std::string provider;
  bool ok;
  bool operator==(const outcome& o) const { return provider == o.provider && ok == o.ok; }
};

provider_health_actor::behavior_type health_recorder(provider_health_actor::pointer,
                                                     std::vector<outcome>* out) {
  return {[out](outcome_atom, std::string& provider, bool ok) { out->push_back({provider, ok}); }};
}

class session_quota_test : public test::session_fixture {
 protected:
  quota_pool_actor pool(std::uint32_t max_concurrent, quota_gauges_ptr& gauges,
                        std::uint32_t max_queue = 10000) {
    quota_options o;
    o.max_concurrent = max_concurrent;
    o.max_queue = max_queue;
    gauges = std::make_shared<quota_gauges>();
    return keep(sys->spawn(quota_pool, std::string{"pool"}, o, gauges));
  }

  stream_event error(std::string_view code, std::uint32_t retry_after_s = 0) {
    auto ev = stream_event::make_error(std::string{code}, std::string{code});
    ev.retry_after_s = retry_after_s;
    return ev;
  }
};

TEST_F(session_quota_test, holds_a_lease_while_streaming_and_releases_it_at_the_end) {
  quota_gauges_ptr g;
  route({{"mock", mock({3, 0, 10}), pool(1, g)}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  EXPECT_EQ(g->leases_in_use.load(), 1);
  advance(100ms);
  EXPECT_EQ(sink->last().kind, event_kind::finish);
  EXPECT_EQ(g->leases_in_use.load(), 0);
  EXPECT_EQ(state_of(s).lease_id, 0u);
}

TEST_F(session_quota_test, a_session_without_room_waits_in_the_queue_and_only_sees_a_delay) {
  quota_gauges_ptr g;
  route({{"mock", mock({3, 0, 50}), pool(1, g)}});
  auto first = std::make_shared<recording_sink>();
  auto second = std::make_shared<recording_sink>();
  start(first);
  start(second);
  EXPECT_EQ(g->queue_length.load(), 1);
  advance(120ms);
  EXPECT_EQ(first->last().kind, event_kind::finish);
  EXPECT_TRUE(second->events.empty() || second->events.front().kind == event_kind::delta);
  advance(200ms);
  EXPECT_EQ(second->text(), mock_text(3));
  EXPECT_EQ(g->leases_in_use.load(), 0);
  EXPECT_EQ(g->granted_total.load(), 2u);
}

TEST_F(session_quota_test, a_candidate_with_room_now_comes_before_queueing_at_a_busier_one) {
  quota_gauges_ptr ga, gb;
  route({{"a", mock({1000, 0, 10}), pool(1, ga)}, {"b", mock({3, 0, 10}), pool(1, gb)}});
  auto first = std::make_shared<recording_sink>();
  auto second = std::make_shared<recording_sink>();
  start(first);
  auto s = start(second);
  EXPECT_EQ(state_of(s).provider, "b");
  EXPECT_EQ(state_of(s).attempt, 1u);
  EXPECT_EQ(ga->queue_length.load(), 0);
  advance(100ms);
  EXPECT_EQ(second->last().kind, event_kind::finish);
}

TEST_F(session_quota_test, past_the_deadline_in_the_queue_the_client_gets_quota_exhausted) {
  quota_gauges_ptr g;
  options.attempt_deadline = 500ms;
  route({{"mock", mock({100000, 0, 10}), pool(1, g)}});
  start(std::make_shared<recording_sink>());
  auto sink = std::make_shared<recording_sink>();
  start(sink);
  advance(490ms);
  EXPECT_TRUE(sink->events.empty());
  advance(20ms);
  ASSERT_EQ(sink->events.size(), 1u);
  EXPECT_EQ(sink->last().code, error_code::quota_exhausted);
  EXPECT_GE(sink->last().retry_after_s, 1u);
  EXPECT_EQ(g->queue_length.load(), 0);
  EXPECT_EQ(g->leases_in_use.load(), 1);  // only the first session's
}

TEST_F(session_quota_test, an_upstream_429_pauses_its_pool_and_fails_over) {
  quota_gauges_ptr ga, gb;
  route({{"a", scripted({error(error_code::upstream_rate_limited, 7)}), pool(5, ga)},
         {"b", mock({3, 0, 0}), pool(5, gb)}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(20ms);
  EXPECT_EQ(sink->text(), mock_text(3));
  EXPECT_EQ(state_of(s).attempt, 2u);
  EXPECT_GT(ga->paused_ms.load(), 6900);
  EXPECT_EQ(ga->leases_in_use.load(), 0);
  EXPECT_EQ(gb->leases_in_use.load(), 0);
  // While paused, the next session goes straight to b.
  auto next = std::make_shared<recording_sink>();
  auto s2 = start(next);
  EXPECT_EQ(state_of(s2).provider, "b");
  EXPECT_EQ(state_of(s2).attempt, 1u);
}

TEST_F(session_quota_test, failover_stops_at_max_attempts) {
  options.max_attempts = 2;
  route({{"a", scripted({error(error_code::upstream_server_error)})},
         {"b", scripted({error(error_code::upstream_connect_failed)})},
         {"c", mock({3, 0, 0})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(20ms);
  ASSERT_EQ(sink->events.size(), 1u);
  EXPECT_EQ(sink->last().code, error_code::upstream_connect_failed);
  EXPECT_EQ(state_of(s).attempt, 2u);
  EXPECT_EQ(registry.failovers.load(), 1u);
}

TEST_F(session_quota_test, no_first_token_by_the_deadline_ends_with_first_byte_timeout) {
  quota_gauges_ptr g;
  options.attempt_deadline = 300ms;
  route({{"silent", scripted({}), pool(1, g)}});
  auto sink = std::make_shared<recording_sink>();
  start(sink);
  advance(310ms);
  ASSERT_EQ(sink->events.size(), 1u);
  EXPECT_EQ(sink->last().code, error_code::upstream_first_byte_timeout);
  EXPECT_EQ(g->leases_in_use.load(), 0);
}

TEST_F(session_quota_test, a_session_that_dies_gives_its_lease_back) {
  quota_gauges_ptr g;
  route({{"mock", mock({100000, 0, 10}), pool(1, g)}});
  auto s = start(std::make_shared<recording_sink>());
  advance(20ms);
  ASSERT_EQ(g->leases_in_use.load(), 1);
  caf::anon_send_exit(s, caf::exit_reason::kill);
  sched->run();
  EXPECT_EQ(g->leases_in_use.load(), 0);
  EXPECT_EQ(g->reclaimed_total.load(), 1u);
}

TEST_F(session_quota_test, a_cancel_while_queued_leaves_nothing_held) {
  quota_gauges_ptr g;
  route({{"mock", mock({3, 0, 100}), pool(1, g)}});
  start(std::make_shared<recording_sink>());
  auto waiting = start(std::make_shared<recording_sink>());
  caf::anon_send(waiting, cancel_atom::value);
  sched->run();
  advance(500ms);  // the first ends; the cancelled one's late grant goes straight back
  EXPECT_EQ(g->leases_in_use.load(), 0);
  EXPECT_EQ(g->queue_length.load(), 0);
}

TEST_F(session_quota_test, a_session_that_ends_or_dies_while_queued_leaves_the_queue_at_once) {
  quota_gauges_ptr g;
  options.attempt_deadline = 60s;
  route({{"mock", mock({100000, 0, 10}), pool(1, g, 1)}});
  start(std::make_shared<recording_sink>());
  auto cancelled_sink = std::make_shared<recording_sink>();
  auto cancelled = start(cancelled_sink, true);
  ASSERT_EQ(g->queue_length.load(), 1);
  // Its client left: the session ends (and stays for the resume window), its place in the
  // queue goes at once, not when its wait would have run out.
  caf::anon_send(cancelled, detach_atom::value, sink_ptr{cancelled_sink});
  sched->run();
  ASSERT_EQ(state_of(cancelled).phase, session_phase::cancelled);
  EXPECT_EQ(g->queue_length.load(), 0);
  EXPECT_FALSE(state_of(cancelled).waiting_pool);
  // max_queue is 1: a new session finds the place free and waits instead of being refused.
  auto next_sink = std::make_shared<recording_sink>();
  auto next = start(next_sink);
  EXPECT_TRUE(next_sink->events.empty());
  EXPECT_EQ(g->queue_length.load(), 1);
  // A waiter that dies leaves too.
  caf::anon_send_exit(next, caf::exit_reason::kill);
  sched->run();
  EXPECT_EQ(g->queue_length.load(), 0);
  EXPECT_EQ(g->leases_in_use.load(), 1);  // only the first, still streaming
}

TEST_F(session_quota_test, each_attempt_reports_its_outcome_once) {
  std::vector<outcome> outcomes;
  health = keep(sys->spawn(health_recorder, &outcomes));
  route({{"broken", scripted({error(error_code::upstream_server_error)})},
         {"strict", scripted({error(error_code::upstream_bad_request)})},
         {"mock", mock({3, 0, 0})}});
  start(std::make_shared<recording_sink>());
  advance(20ms);
  // The client error is not the provider's fault and ends the session; nothing after it.
  EXPECT_EQ(outcomes, (std::vector<outcome>{{"broken", false}}));
  outcomes.clear();
  route({{"broken", scripted({error(error_code::upstream_server_error)})},
         {"mock", mock({3, 0, 0})}});
  start(std::make_shared<recording_sink>());
  advance(20ms);
  EXPECT_EQ(outcomes, (std::vector<outcome>{{"broken", false}, {"mock", true}}));
}

}  // namespace
}  // namespace streamgate

namespace streamgate {
namespace {

TEST_F(session_quota_test, a_request_queued_while_its_provider_restarts_is_not_lost) {
  quota_gauges_ptr g;
  auto p = pool(1, g);
  auto crashing = mock({100000, 0, 10});
  route({{"a", crashing, p}});
  auto first = std::make_shared<recording_sink>();
  auto second = std::make_shared<recording_sink>();
  start(first);
  auto s = start(second);
  advance(20ms);
  ASSERT_EQ(g->queue_length.load(), 1);
  // The provider crashes (its streams with it) and its supervisor restarts it at once; its
  // breaker is half-open with one probe left.
  caf::anon_send_exit(crashing, caf::exit_reason::unhandled_exception);
  caf::anon_send(router, provider_atom::value, std::string{"a"}, keep(mock({3, 0, 10})));
  caf::anon_send(router, health_atom::value, std::string{"a"}, std::uint32_t{1});
  sched->run();
  advance(100ms);
  EXPECT_EQ(first->last().code, error_code::upstream_interrupted);
  EXPECT_EQ(second->text(), mock_text(3));  // the queued one went to the new actor
  EXPECT_EQ(state_of(s).attempt, 1u);
  EXPECT_EQ(g->leases_in_use.load(), 0);
  // Fetching the new handle made no plan: the probe is still there for a new request.
  auto view = table->view();
  EXPECT_EQ(view.plans, 2u);
  EXPECT_EQ(view.admits.at("a"), 1u);
}

}  // namespace
}  // namespace streamgate

namespace streamgate {
namespace {

TEST_F(session_quota_test, two_hundred_sessions_through_a_pool_of_ten_never_open_more_than_ten) {
  quota_gauges_ptr g;
  options.attempt_deadline = 600s;
  route({{"mock", mock({5, 0, 10}), pool(10, g)}});
  std::vector<std::shared_ptr<recording_sink>> sinks;
  for (int i = 0; i < 200; ++i) {
    sinks.push_back(std::make_shared<recording_sink>());
    start(sinks.back());
    ASSERT_LE(registry.upstreams.load(), 10);
  }
  std::int64_t peak = 0;
  for (int step = 0; step < 2000 && g->granted_total.load() < 200; ++step) {
    advance(5ms, 5ms);
    peak = std::max<std::int64_t>(peak, registry.upstreams.load());
    ASSERT_LE(registry.upstreams.load(), 10) << "at step " << step;
    ASSERT_LE(g->leases_in_use.load(), 10);
  }
  advance(100ms);
  EXPECT_EQ(peak, 10);  // the pool was used to the full
  EXPECT_EQ(g->granted_total.load(), 200u)
      << g->queue_length.load() << " queued, " << g->refused_total.load() << " refused";
  for (auto& s : sinks) {
    ASSERT_FALSE(s->events.empty());
    EXPECT_EQ(s->last().kind, event_kind::finish);
  }
  EXPECT_EQ(g->leases_in_use.load(), 0);
  EXPECT_EQ(registry.upstreams.load(), 0);
}

}  // namespace
}  // namespace streamgate

namespace streamgate {
namespace {

TEST_F(session_quota_test, a_request_for_a_restarting_provider_waits_for_it) {
  route({{"a", mock({3, 0, 10})}});
  caf::anon_send(router, provider_atom::value, std::string{"a"}, provider_actor{});
  sched->run();
  auto sink = std::make_shared<recording_sink>();
  start(sink);
  advance(200ms);
  EXPECT_TRUE(sink->events.empty());  // no error: the provider is coming back
  caf::anon_send(router, provider_atom::value, std::string{"a"}, keep(mock({3, 0, 10})));
  advance(200ms);
  EXPECT_EQ(sink->text(), mock_text(3));
}

TEST_F(session_quota_test, a_request_for_a_provider_that_is_down_fails_at_once) {
  route({{"a", mock({3, 0, 10})}});
  caf::anon_send(router, provider_atom::value, std::string{"a"});
  sched->run();
  auto sink = std::make_shared<recording_sink>();
  start(sink);
  ASSERT_EQ(sink->events.size(), 1u);
  EXPECT_EQ(sink->last().code, error_code::no_provider_available);
}

TEST_F(session_quota_test, a_session_whose_router_crashed_asks_its_successor) {
  route_by_table = false;  // an embedder's router, reached by message only
  route({{"a", mock({3, 0, 10})}});
  caf::anon_send_exit(router, caf::exit_reason::kill);
  sched->run();
  auto sink = std::make_shared<recording_sink>();
  start(sink);                        // its plan request finds the router gone
  EXPECT_TRUE(sink->events.empty());  // not an error: a router comes back
  route({{"a", mock({3, 0, 10})}});
  router_slot->set(router);  // the engine publishes the restarted router
  advance(200ms);
  EXPECT_EQ(sink->text(), mock_text(3));
}

TEST_F(session_quota_test, a_lease_and_a_queue_wait_follow_a_restarted_pool) {
  quota_gauges_ptr g;
  auto old = pool(1, g);
  route({{"mock", mock({5, 0, 20}), old}});
  auto first = std::make_shared<recording_sink>();
  auto second = std::make_shared<recording_sink>();
  auto holder = start(first);   // streams with the only lease
  auto waiter = start(second);  // queued
  ASSERT_EQ(g->queue_length.load(), 1);
  // The pool crashes; the engine starts its successor and tells every session.
  caf::anon_send_exit(old, caf::exit_reason::kill);
  sched->run();
  quota_options o;
  o.max_concurrent = 1;
  quota_pool_actor fresh = keep(sys->spawn(restarted_quota_pool, std::string{"pool"}, o, g,
                                           quota_carry{1, 1, std::chrono::milliseconds(5000), 1}));
  for (auto& s : {holder, waiter}) caf::anon_send(s, pool_atom::value, old, fresh);
  sched->run();
  auto& ps = coordinator_fixture::state_of<quota_pool_state, quota_pool_impl>(fresh);
  EXPECT_EQ(ps.reserved, 0u);       // the holder reclaimed its lease
  EXPECT_EQ(ps.leases.size(), 1u);  // ... and holds it at the new pool
  EXPECT_EQ(ps.queue.size(), 1u);   // the waiter waits there now, within the limit
  EXPECT_EQ(state_of(holder).lease_id, ps.leases.begin()->first);
  advance(500ms);
  EXPECT_EQ(first->text(), mock_text(5));
  EXPECT_EQ(second->text(), mock_text(5));  // served once the holder let go
  EXPECT_EQ(ps.leases.size(), 0u);
  EXPECT_EQ(g->leases_in_use.load(), 0);
}

}  // namespace
}  // namespace streamgate

namespace streamgate {
namespace {

// A provider whose upstream fails before the provider's answer reaches the session: the
// error is sent while the provider still handles the open, and the upstream it answers with
// has already quit. (A mock configured to fail does this when its first tick runs on another
// worker before the answer arrives.)
provider_actor::behavior_type fails_before_its_answer(provider_actor::pointer self) {
  return {[self](open_atom, chat_request&, upstream_target& t) -> upstream_actor {
    auto up = self->spawn([](upstream_actor::pointer u) -> upstream_actor::behavior_type {
      u->quit();
      return {[](cancel_atom) {}};
    });
    self->send(t.session, upstream_atom::value, t.attempt,
               stream_event::make_error(std::string{error_code::upstream_server_error}, "503"));
    return up;
  }};
}

TEST_F(session_quota_test, an_attempts_late_answer_does_not_fail_the_next_attempt) {
  quota_gauges_ptr g;
  // The failover has to wait for its lease, so attempt 1's answer arrives while attempt 2 is
  // not open yet: that answer belongs to an attempt that has ended.
  route({{"bad", sys->spawn(fails_before_its_answer)}, {"good", mock({3, 0, 10}), pool(1, g)}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(200ms);
  EXPECT_EQ(sink->text(), mock_text(3));
  EXPECT_EQ(sink->last().kind, event_kind::finish);
  EXPECT_EQ(state_of(s).attempt, 2u);
  // Attempt 1 failed once, with its own error: its upstream's exit, which the late answer
  // would have had the session watch, is no second failure (nor one of attempt 2).
  EXPECT_EQ(state_of(s).last_failure.code, error_code::upstream_server_error);
  EXPECT_EQ(g->leases_in_use.load(), 0);
}

}  // namespace
}  // namespace streamgate
