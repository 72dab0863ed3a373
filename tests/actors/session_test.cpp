// The session state machine under CAF's deterministic test coordinator: virtual time, no
// threads, no sleeps.

#include "actors/session.hpp"
#include "actors/error_code.hpp"
#include "actors/router.hpp"
#include "actors/session_registry.hpp"
#include "providers/mock_provider.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <gtest/gtest.h>

namespace streamgate {
namespace {

using namespace std::chrono_literals;

// Records what a session delivers; can pretend to be a client that stopped reading.
class recording_sink : public event_sink {
 public:
  bool deliver(const event_ptr& ev) override {
    if (full) return false;
    events.push_back(*ev);
    return true;
  }
  void attached(std::uint64_t last_seq, bool ended) override {
    attach_reports.emplace_back(last_seq, ended);
  }
  void detached(detach_reason why) override { detach_reasons.push_back(why); }
  const char* transport() const override { return "test"; }

  std::string text() const {
    std::string out;
    for (auto& e : events)
      if (e.kind == event_kind::delta) out += e.text;
    return out;
  }
  std::size_t terminal_count() const {
    std::size_t n = 0;
    for (auto& e : events) n += e.terminal() ? 1 : 0;
    return n;
  }
  const stream_event& last() const { return events.back(); }

  bool full = false;
  std::vector<stream_event> events;
  std::vector<std::pair<std::uint64_t, bool>> attach_reports;
  std::vector<detach_reason> detach_reasons;
};

// A provider whose upstream replays a fixed script of events at once, for failure paths.
provider_actor::behavior_type scripted_provider(provider_actor::pointer self,
                                                std::vector<stream_event> script) {
  return {[self, script](open_atom, chat_request&, session_actor& session,
                         std::uint32_t attempt) -> upstream_actor {
    return self->spawn(
        [script, session, attempt](upstream_actor::pointer up) -> upstream_actor::behavior_type {
          for (auto& ev : script) up->send(session, upstream_atom::value, attempt, ev);
          return {[up](cancel_atom) { up->quit(); }};
        });
  }};
}

class session_test : public ::testing::Test {
 protected:
  session_test() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
  }

  ~session_test() override {
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    for (auto& s : registry.all()) caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    sched->run();
  }

  // Routes model "m" to the given providers, in order.
  void route(std::vector<std::pair<std::string, provider_actor>> providers) {
    router_config rc;
    for (auto& [name, h] : providers) rc.routes["m"].targets.push_back({name, 1});
    router = sys->spawn(router_behavior, rc);
    spawned.push_back(caf::actor_cast<caf::actor>(router));
    for (auto& [name, h] : providers) {
      caf::anon_send(router, provider_atom::value, name, h);
      spawned.push_back(caf::actor_cast<caf::actor>(h));
    }
    sched->run();
  }

  provider_actor mock(mock_config mc = {3, 100, 10}) {
    return sys->spawn(mock_provider, mc, &registry.upstreams);
  }

  provider_actor scripted(std::vector<stream_event> script) {
    return sys->spawn(scripted_provider, std::move(script));
  }

  session_actor start(std::shared_ptr<recording_sink> sink, bool cancel_on_detach = false,
                      std::string model = "m") {
    session_init init;
    init.id = session_registry::new_id();
    init.request.model = std::move(model);
    init.request.body = {{"messages", nlohmann::json::array()}};
    init.first_sink = sink;
    init.cancel_on_detach = cancel_on_detach;
    init.router = router;
    init.registry = &registry;
    init.options.resume_window = 1s;
    auto id = init.id;
    auto h = *registry.add(id, 100, [&] { return sys->spawn(session_behavior, init); });
    sched->run();
    return h;
  }

  session_state& state_of(const session_actor& h) {
    return dynamic_cast<session_actor::stateful_base<session_state>&>(
               *caf::actor_cast<caf::abstract_actor*>(h))
        .state;
  }

  // Advances virtual time in small steps, running every message each step causes.
  void advance(std::chrono::milliseconds total, std::chrono::milliseconds step = 10ms) {
    for (auto t = 0ms; t < total; t += step) {
      sched->advance_time(step);
      sched->run();
    }
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  session_registry registry;
  router_actor router;
  std::vector<caf::actor> spawned;
};

TEST_F(session_test, streams_queued_then_streaming_then_finished_with_one_terminal_event) {
  route({{"mock", mock()}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  EXPECT_EQ(state_of(s).phase, session_phase::queued);
  EXPECT_TRUE(sink->events.empty());

  advance(100ms);  // first token delay
  EXPECT_EQ(state_of(s).phase, session_phase::streaming);
  ASSERT_EQ(sink->events.size(), 1u);

  advance(100ms);
  EXPECT_EQ(state_of(s).phase, session_phase::finished);
  EXPECT_EQ(sink->text(), mock_text(3));
  EXPECT_EQ(sink->terminal_count(), 1u);
  EXPECT_EQ(sink->last().kind, event_kind::finish);
  EXPECT_EQ(sink->last().text, "stop");
  for (std::size_t i = 0; i < sink->events.size(); ++i) EXPECT_EQ(sink->events[i].seq, i + 1);
  EXPECT_EQ(registry.active.load(), 0);
  EXPECT_EQ(registry.upstreams.load(), 0);
}

TEST_F(session_test, cancel_stops_the_upstream_and_ends_with_cancelled) {
  route({{"mock", mock({1000, 0, 10})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(30ms);
  ASSERT_GE(sink->events.size(), 2u);
  EXPECT_EQ(registry.upstreams.load(), 1);

  caf::anon_send(s, cancel_atom::value);
  sched->run();
  EXPECT_EQ(state_of(s).phase, session_phase::cancelled);
  EXPECT_EQ(sink->last().kind, event_kind::cancelled);
  EXPECT_EQ(registry.upstreams.load(), 0);  // the generator is gone
  auto count = sink->events.size();
  advance(100ms);
  EXPECT_EQ(sink->events.size(), count);  // nothing after the terminal event
  EXPECT_EQ(sink->terminal_count(), 1u);
}

TEST_F(session_test, losing_the_last_client_cancels_when_asked_to) {
  route({{"mock", mock({1000, 0, 10})}});
  sink_ptr sink = std::make_shared<recording_sink>();
  auto s = start(std::static_pointer_cast<recording_sink>(sink), /*cancel_on_detach=*/true);
  advance(20ms);
  caf::anon_send(s, detach_atom::value, sink);
  sched->run();
  EXPECT_EQ(state_of(s).phase, session_phase::cancelled);
  EXPECT_EQ(registry.upstreams.load(), 0);
}

TEST_F(session_test, a_detached_session_runs_through_the_resume_window_then_cancels) {
  route({{"mock", mock({100000, 0, 10})}});
  sink_ptr sink = std::make_shared<recording_sink>();
  auto s = start(std::static_pointer_cast<recording_sink>(sink));
  advance(20ms);
  caf::anon_send(s, detach_atom::value, sink);
  sched->run();
  advance(900ms);
  EXPECT_EQ(state_of(s).phase, session_phase::streaming);  // still generating, unseen
  EXPECT_EQ(registry.upstreams.load(), 1);
  advance(200ms);  // past the 1 s window
  EXPECT_EQ(registry.upstreams.load(), 0);
  EXPECT_EQ(registry.size(), 0u);  // the session is gone
}

TEST_F(session_test, resume_replays_exactly_the_events_after_the_given_seq_then_goes_live) {
  route({{"mock", mock({10, 0, 10})}});
  sink_ptr first = std::make_shared<recording_sink>();
  auto s = start(std::static_pointer_cast<recording_sink>(first));
  advance(40ms);
  caf::anon_send(s, detach_atom::value, first);
  sched->run();
  auto& seen = static_cast<recording_sink&>(*first).events;
  auto last_seen = seen.back().seq;

  auto second = std::make_shared<recording_sink>();
  caf::anon_send(s, attach_atom::value, sink_ptr{second}, last_seen);
  sched->run();
  ASSERT_EQ(second->attach_reports.size(), 1u);
  advance(200ms);
  ASSERT_FALSE(second->events.empty());
  EXPECT_EQ(second->events.front().seq, last_seen + 1);
  std::string whole;
  for (auto& e : seen)
    if (e.kind == event_kind::delta) whole += e.text;
  whole += second->text();
  EXPECT_EQ(whole, mock_text(10));
  EXPECT_EQ(second->last().kind, event_kind::finish);
}

TEST_F(session_test, an_ended_session_stays_readable_for_the_window) {
  route({{"mock", mock({2, 0, 0})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(10ms);
  ASSERT_EQ(sink->last().kind, event_kind::finish);
  auto late = std::make_shared<recording_sink>();
  caf::anon_send(s, attach_atom::value, sink_ptr{late}, std::uint64_t{0});
  sched->run();
  EXPECT_EQ(late->events.size(), sink->events.size());
  ASSERT_EQ(late->attach_reports.size(), 1u);
  EXPECT_TRUE(late->attach_reports[0].second);
  advance(1100ms);
  EXPECT_EQ(registry.size(), 0u);
}

TEST_F(session_test, a_failure_before_the_first_token_fails_over_to_the_next_provider) {
  route({{"broken", scripted({stream_event::make_error(
                        std::string{error_code::upstream_server_error}, "503")})},
         {"mock", mock({3, 0, 0})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(20ms);
  EXPECT_EQ(sink->text(), mock_text(3));  // the client saw only the delay
  EXPECT_EQ(sink->terminal_count(), 1u);
  EXPECT_EQ(sink->last().kind, event_kind::finish);
  EXPECT_EQ(state_of(s).attempt, 2u);
}

TEST_F(session_test, a_client_error_is_not_retried_elsewhere) {
  route({{"strict", scripted({stream_event::make_error(
                        std::string{error_code::upstream_bad_request}, "bad temperature")})},
         {"mock", mock({3, 0, 0})}});
  auto sink = std::make_shared<recording_sink>();
  start(sink);
  advance(20ms);
  ASSERT_EQ(sink->events.size(), 1u);
  EXPECT_EQ(sink->last().code, error_code::upstream_bad_request);
  EXPECT_EQ(sink->last().text, "bad temperature");
}

TEST_F(session_test, after_the_first_token_a_broken_upstream_ends_with_interrupted) {
  route({{"flaky", scripted({stream_event::make_delta("partial "),
                             stream_event::make_error(std::string{error_code::upstream_interrupted},
                                                      "dropped")})},
         {"mock", mock({3, 0, 0})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(20ms);
  EXPECT_EQ(sink->text(), "partial ");
  EXPECT_EQ(sink->last().code, error_code::upstream_interrupted);
  EXPECT_EQ(state_of(s).phase, session_phase::failed);
  EXPECT_EQ(state_of(s).log.size(), 2u);  // the partial text is kept in the log
}

TEST_F(session_test, when_every_candidate_fails_the_last_error_is_reported_once) {
  route({{"a", scripted({stream_event::make_error(std::string{error_code::upstream_server_error},
                                                  "a down")})},
         {"b", scripted({stream_event::make_error(std::string{error_code::upstream_connect_failed},
                                                  "b down")})}});
  auto sink = std::make_shared<recording_sink>();
  start(sink);
  advance(20ms);
  ASSERT_EQ(sink->events.size(), 1u);
  EXPECT_EQ(sink->last().code, error_code::upstream_connect_failed);
}

TEST_F(session_test, a_model_without_providers_fails_with_no_provider_available) {
  route({{"mock", mock()}});
  auto sink = std::make_shared<recording_sink>();
  start(sink, false, "unrouted");
  ASSERT_EQ(sink->events.size(), 1u);
  EXPECT_EQ(sink->last().code, error_code::no_provider_available);
  EXPECT_EQ(registry.active.load(), 0);
}

TEST_F(session_test, a_slow_sink_is_detached_with_a_reason) {
  route({{"mock", mock({1000, 0, 10})}});
  auto slow = std::make_shared<recording_sink>();
  auto fast = std::make_shared<recording_sink>();
  auto s = start(slow);
  caf::anon_send(s, attach_atom::value, sink_ptr{fast}, std::uint64_t{0});
  sched->run();
  advance(20ms);
  slow->full = true;
  advance(20ms);
  ASSERT_EQ(slow->detach_reasons.size(), 1u);
  EXPECT_EQ(slow->detach_reasons[0], detach_reason::slow_consumer);
  EXPECT_EQ(state_of(s).phase, session_phase::streaming);  // the other client goes on
  EXPECT_GT(fast->events.size(), slow->events.size());
}

TEST_F(session_test, shutdown_ends_the_stream_with_server_shutting_down) {
  route({{"mock", mock({1000, 0, 10})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(20ms);
  caf::anon_send(s, shutdown_atom::value);
  sched->run();
  EXPECT_EQ(sink->last().code, error_code::server_shutting_down);
  EXPECT_EQ(registry.upstreams.load(), 0);
  EXPECT_EQ(sink->terminal_count(), 1u);
}

TEST_F(session_test, a_session_that_dies_takes_its_upstream_with_it) {
  route({{"mock", mock({100000, 0, 10})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(20ms);
  ASSERT_EQ(registry.upstreams.load(), 1);
  caf::anon_send_exit(s, caf::exit_reason::kill);
  sched->run();
  EXPECT_EQ(registry.upstreams.load(), 0);
  EXPECT_EQ(registry.size(), 0u);
}

}  // namespace
}  // namespace streamgate
