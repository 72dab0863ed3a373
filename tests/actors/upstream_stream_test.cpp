// The HTTP provider and its upstream_stream actors under CAF's deterministic test
// coordinator. The I/O layer is a scripted transfer_runner: the test plays the driver thread
// by invoking a transfer's callback, then runs the scheduler. Deltas go into the session's
// event_log through the lane (a recording sink shows them); the terminal event to the session.

#include "actors/error_code.hpp"
#include "actors/event_log.hpp"
#include "tests/actors/scripted_runner.hpp"
#include "tests/support/recording_sink.hpp"
#include "tests/support/test_coordinator_fixture.hpp"

#include <nlohmann/json.hpp>

namespace streamgate {
namespace {

using test::scripted_runner;

struct received {
  std::uint32_t attempt;
  stream_event ev;
};

// Stands in for a session: records what its upstream reports to the actor.
session_actor::behavior_type recording_session(session_actor::pointer self,
                                               std::vector<received>* log) {
  return {
      [log](upstream_atom, std::uint32_t attempt, stream_event& ev) {
        log->push_back({attempt, std::move(ev)});
      },
      [](first_delta_atom, std::uint32_t) {},
      [](sinks_lost_atom) {},
      [](attach_atom, sink_ptr&, std::uint64_t) {},
      [](detach_atom, sink_ptr&) {},
      [self](cancel_atom) { self->quit(); },
      [](shutdown_atom) {},
      [](evict_atom) {},
      [](pool_atom, quota_pool_actor&, quota_pool_actor&) {},
  };
}

class upstream_stream_test : public test::coordinator_fixture {
 protected:
  upstream_stream_test() {
    auto parts = test::spawn_http_provider(*sys, test::test_provider_config(), runner, &upstreams);
    provider = keep(parts.handle);
    opener = parts.opener;
    session = keep(sys->spawn(recording_session, &log));
    sched->run();
  }

  // Opens an upstream for the session, as a session would, and returns its handle.
  upstream_actor open(std::uint32_t attempt) {
    auto req = std::get<chat_request>(parse_chat_request(
        R"({"model":"client-model","stream":true,"messages":[{"role":"user","content":"hi"}]})"));
    upstream_actor up;
    caf::scoped_actor self{*sys};
    events->open_lane(attempt);
    self->send(provider, open_atom::value, req, upstream_target{session, attempt, events});
    sched->run();
    self->receive([&](upstream_actor& h) { up = h; },
                  caf::after(std::chrono::seconds(0)) >> [] { FAIL() << "no upstream"; });
    return up;
  }

  // What the driver thread does: hand an event to the transfer's owner.
  void driver_delivers(transfer_id id, stream_event ev) {
    runner->callbacks.at(id)(std::move(ev));
    sched->run();
  }

  bool alive(const upstream_actor& up) {
    return !caf::actor_cast<caf::abstract_actor*>(up)->getf(
        caf::abstract_actor::is_terminated_flag);
  }

  std::shared_ptr<scripted_runner> runner = std::make_shared<scripted_runner>();
  std::atomic<std::int64_t> upstreams{0};
  std::vector<received> log;
  std::shared_ptr<test::recording_sink> sink = std::make_shared<test::recording_sink>();
  std::shared_ptr<event_log> events = test::log_into(sink);
  provider_actor provider;
  std::shared_ptr<http_upstream> opener;
  session_actor session;
};

TEST_F(upstream_stream_test, starts_one_transfer_with_the_provider_request) {
  auto up = open(1);
  ASSERT_EQ(runner->requests.size(), 1u);
  auto& r = runner->requests.at(1);
  EXPECT_EQ(r.url, "http://upstream.test/v1/chat/completions");
  EXPECT_EQ(nlohmann::json::parse(r.body)["model"], "provider-model");
  EXPECT_EQ(upstreams.load(), 1);
  EXPECT_TRUE(alive(up));
}

TEST_F(upstream_stream_test, deltas_go_through_the_lane_and_the_terminal_to_the_session) {
  auto up = open(3);
  driver_delivers(1, stream_event::make_delta("Hel"));
  driver_delivers(1, stream_event::make_delta("lo"));
  // In the log and at its sink at once, without a message to the session.
  EXPECT_EQ(sink->text(), "Hello");
  EXPECT_EQ(sink->events.back().seq, 2u);
  EXPECT_TRUE(log.empty());
  driver_delivers(1, stream_event::make_finish("stop"));
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].attempt, 3u);
  EXPECT_EQ(log[0].ev.kind, event_kind::finish);
  EXPECT_FALSE(alive(up));
  // The transfer ended on its own: no cancel, so curl may reuse the connection.
  EXPECT_TRUE(runner->cancels.empty());
  EXPECT_EQ(upstreams.load(), 0);
}

TEST_F(upstream_stream_test, an_error_is_the_terminal_event_too) {
  auto up = open(1);
  driver_delivers(1, stream_event::make_error(std::string{error_code::upstream_idle_timeout}, "x"));
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].ev.code, error_code::upstream_idle_timeout);
  EXPECT_FALSE(alive(up));
  EXPECT_TRUE(runner->cancels.empty());
}

TEST_F(upstream_stream_test, a_cancel_removes_the_transfer_and_silences_it) {
  auto up = open(1);
  driver_delivers(1, stream_event::make_delta("a"));
  // What a session does to cancel: close the lane (the fence), then tell the upstream.
  events->close_lane();
  caf::anon_send(up, cancel_atom::value);
  sched->run();
  EXPECT_EQ(runner->cancels, std::vector<transfer_id>{1});
  EXPECT_FALSE(alive(up));
  EXPECT_EQ(upstreams.load(), 0);
  // The driver thread may still be inside the transfer's callback: nothing gets through.
  driver_delivers(1, stream_event::make_delta("late"));
  driver_delivers(1, stream_event::make_finish("stop"));
  EXPECT_EQ(sink->text(), "a");
  EXPECT_TRUE(log.empty());
}

TEST_F(upstream_stream_test, the_lane_takes_only_the_attempt_it_was_opened_for) {
  open(1);
  open(2);  // the session failed over: attempt 2's lane replaces attempt 1's
  driver_delivers(1, stream_event::make_delta("stale"));
  driver_delivers(2, stream_event::make_delta("fresh"));
  EXPECT_EQ(sink->text(), "fresh");
}

TEST_F(upstream_stream_test, the_session_dying_cancels_the_transfer) {
  auto up = open(1);
  caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  sched->run();
  EXPECT_EQ(runner->cancels, std::vector<transfer_id>{1});
  EXPECT_FALSE(alive(up));
}

TEST_F(upstream_stream_test, a_provider_crash_takes_its_streams_and_transfers_down) {
  auto a = open(1);
  auto b = open(2);
  caf::anon_send_exit(provider, caf::exit_reason::unhandled_exception);
  sched->run();
  EXPECT_FALSE(alive(a));
  EXPECT_FALSE(alive(b));
  std::sort(runner->cancels.begin(), runner->cancels.end());
  EXPECT_EQ(runner->cancels, (std::vector<transfer_id>{1, 2}));
  EXPECT_EQ(upstreams.load(), 0);
}

TEST_F(upstream_stream_test, an_open_after_its_provider_ended_is_an_error_and_no_transfer) {
  auto req = std::get<chat_request>(parse_chat_request(
      R"({"model":"client-model","stream":true,"messages":[{"role":"user","content":"hi"}]})"));
  events->open_lane(1);
  caf::anon_send(provider, open_atom::value, req, upstream_target{session, 1, events});
  sched->run_once();         // the provider spawns the stream actor, which has not started
  opener->close("stopped");  // what the provider's end does
  sched->run();
  EXPECT_TRUE(runner->requests.empty());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].ev.code, error_code::upstream_error);
  EXPECT_EQ(upstreams.load(), 0);
}

}  // namespace
}  // namespace streamgate
