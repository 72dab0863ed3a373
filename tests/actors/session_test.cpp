// The session state machine under CAF's deterministic test coordinator: virtual time, no
// threads, no sleeps.

#include "tests/actors/session_fixture.hpp"

namespace streamgate {
namespace {

using namespace std::chrono_literals;
using session_test = test::session_fixture;
using test::recording_sink;

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

TEST_F(session_test, a_cursor_beyond_the_log_is_refused_and_no_event_reaches_the_sink) {
  route({{"mock", mock({1000, 0, 10})}});
  auto first = std::make_shared<recording_sink>();
  auto s = start(first);
  advance(40ms);
  ASSERT_GE(first->events.size(), 2u);
  auto ahead = std::make_shared<recording_sink>();
  caf::anon_send(s, attach_atom::value, sink_ptr{ahead}, std::uint64_t{1000000});
  sched->run();
  ASSERT_EQ(ahead->detach_reasons.size(), 1u);
  EXPECT_EQ(ahead->detach_reasons[0], detach_reason::cursor_ahead);
  EXPECT_TRUE(ahead->attach_reports.empty());
  advance(100ms);
  EXPECT_TRUE(ahead->events.empty());  // not attached: later events (smaller seqs) stay away
  EXPECT_GT(first->events.size(), 5u);
}

TEST_F(session_test, a_replay_stops_where_the_sink_is_full_and_an_attach_from_there_completes_it) {
  route({{"mock", mock({10, 0, 0})}});
  auto s = start(nullptr);
  advance(10ms);
  auto sink = std::make_shared<recording_sink>();
  sink->room = 4;
  caf::anon_send(s, attach_atom::value, sink_ptr{sink}, std::uint64_t{0});
  sched->run();
  ASSERT_EQ(sink->paused_after, std::vector<std::uint64_t>{4});
  EXPECT_EQ(sink->events.size(), 4u);
  EXPECT_TRUE(sink->attach_reports.empty());  // not attached while paused
  sink->room = static_cast<std::size_t>(-1);
  caf::anon_send(s, attach_atom::value, sink_ptr{sink}, sink->paused_after.back());
  sched->run();
  ASSERT_EQ(sink->attach_reports.size(), 1u);
  EXPECT_TRUE(sink->attach_reports[0].second);
  for (std::size_t i = 0; i < sink->events.size(); ++i) EXPECT_EQ(sink->events[i].seq, i + 1);
  EXPECT_EQ(sink->text(), mock_text(10));
  EXPECT_EQ(sink->terminal_count(), 1u);
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
  EXPECT_EQ(state_of(s).log->size(), 2u);  // the partial text is kept in the log
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

// The lane: the upstream appends its deltas to the session's log itself (here the test plays
// the upstream's thread); the session's decisions close it.

TEST_F(session_test, a_cancel_closes_the_lane_so_nothing_of_the_attempt_follows) {
  route({{"silent", scripted({})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  auto log = state_of(s).log;
  ASSERT_EQ(state_of(s).attempt, 1u);
  EXPECT_TRUE(log->append_from_upstream(1, stream_event::make_delta("a")));
  EXPECT_EQ(sink->text(), "a");  // at the sink without the session running
  sched->run();
  EXPECT_EQ(state_of(s).phase, session_phase::streaming);  // the session heard of it
  caf::anon_send(s, cancel_atom::value);
  sched->run();
  EXPECT_FALSE(log->append_from_upstream(1, stream_event::make_delta("late")));
  EXPECT_EQ(sink->text(), "a");
  EXPECT_EQ(sink->last().kind, event_kind::cancelled);
  EXPECT_EQ(sink->terminal_count(), 1u);
}

TEST_F(session_test, a_failed_attempt_cannot_write_into_the_log_after_failover) {
  route({{"broken", scripted({stream_event::make_error(
                        std::string{error_code::upstream_server_error}, "503")})},
         {"silent", scripted({})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  ASSERT_EQ(state_of(s).attempt, 2u);
  auto log = state_of(s).log;
  EXPECT_FALSE(log->append_from_upstream(1, stream_event::make_delta("stale")));
  EXPECT_TRUE(log->append_from_upstream(2, stream_event::make_delta("fresh")));
  EXPECT_EQ(sink->text(), "fresh");
}

TEST_F(session_test, a_lane_delta_beats_a_deadline_the_session_has_not_handled_yet) {
  options.attempt_deadline = 50ms;
  route({{"silent", scripted({})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  // The deadline fires (its message waits in the mailbox) just as the first token arrives.
  sched->advance_time(50ms);
  EXPECT_TRUE(state_of(s).log->append_from_upstream(1, stream_event::make_delta("a")));
  sched->run();
  EXPECT_EQ(state_of(s).phase, session_phase::streaming);  // not failed: the token counts
  EXPECT_EQ(sink->text(), "a");
  EXPECT_EQ(sink->terminal_count(), 0u);
}

TEST_F(session_test, a_slow_client_dropped_on_the_lane_is_a_detach_like_any_other) {
  route({{"silent", scripted({})}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink, /*cancel_on_detach=*/true);
  sink->full = true;
  EXPECT_TRUE(state_of(s).log->append_from_upstream(1, stream_event::make_delta("a")));
  ASSERT_EQ(sink->detach_reasons.size(), 1u);
  EXPECT_EQ(sink->detach_reasons[0], detach_reason::slow_consumer);
  sched->run();
  EXPECT_EQ(state_of(s).phase, session_phase::cancelled);
}

}  // namespace
}  // namespace streamgate
