// A session over real HTTP provider actors whose driver thread the test plays by hand. An HTTP
// transfer's deltas go from the driver thread straight to the session, so they can still
// arrive after the session stopped or gave up that attempt: "nothing after a cancel" is the
// session's rule, and these tests deliver such late deltas on purpose.

#include "actors/quota_pool.hpp"
#include "providers/http_provider.hpp"
#include "tests/actors/scripted_runner.hpp"
#include "tests/actors/session_fixture.hpp"

namespace streamgate {
namespace {

using test::recording_sink;

class session_late_event_test : public test::session_fixture {
 protected:
  provider_actor http(const std::string& name) {
    http_provider_config pc;
    pc.name = name;
    pc.base_url = "http://" + name + ".test/v1";
    return sys->spawn(http_provider, pc, runner, &registry.upstreams);
  }

  // What the driver thread does: hand transfer `id`'s next event to its owner.
  void driver_delivers(transfer_id id, stream_event ev) {
    runner->callbacks.at(id)(std::move(ev));
    sched->run();
  }

  std::shared_ptr<test::scripted_runner> runner = std::make_shared<test::scripted_runner>();
};

TEST_F(session_late_event_test, a_delta_after_cancel_reaches_neither_the_sink_nor_the_log) {
  route({{"h", http("h")}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  ASSERT_EQ(runner->callbacks.size(), 1u);
  driver_delivers(1, stream_event::make_delta("early "));
  ASSERT_EQ(sink->text(), "early ");

  caf::anon_send(s, cancel_atom::value);
  sched->run();
  ASSERT_EQ(runner->cancels, std::vector<transfer_id>{1});
  // The driver has not taken the cancel yet: its next chunk still goes out.
  driver_delivers(1, stream_event::make_delta("late "));
  driver_delivers(1, stream_event::make_usage({1, 2}));
  EXPECT_EQ(sink->text(), "early ");
  EXPECT_EQ(sink->events.size(), 2u);
  EXPECT_EQ(sink->last().kind, event_kind::cancelled);
  EXPECT_EQ(state_of(s).log.size(), 2u);
  EXPECT_EQ(state_of(s).tokens, 1u);
}

TEST_F(session_late_event_test, a_delta_of_a_failed_over_attempt_is_dropped) {
  auto a = http("a");
  route({{"a", a}, {"b", http("b")}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  // Provider a crashes before the first token: its stream goes with it, the session fails
  // over to b (transfer 2, attempt 2).
  caf::anon_send_exit(a, caf::exit_reason::unhandled_exception);
  sched->run();
  ASSERT_EQ(state_of(s).attempt, 2u);
  ASSERT_EQ(runner->callbacks.size(), 2u);
  driver_delivers(1, stream_event::make_delta("from a "));
  driver_delivers(2, stream_event::make_delta("from b "));
  driver_delivers(1, stream_event::make_delta("more from a "));
  driver_delivers(2, stream_event::make_finish("stop"));
  EXPECT_EQ(sink->text(), "from b ");
  EXPECT_EQ(sink->terminal_count(), 1u);
  EXPECT_EQ(state_of(s).log.size(), 2u);
}

TEST_F(session_late_event_test, a_delta_of_a_failed_attempt_is_dropped_while_the_next_waits) {
  auto a = http("a");
  quota_options qo;
  qo.max_concurrent = 1;
  auto pool = keep(sys->spawn(quota_pool, std::string{"b"}, qo, std::make_shared<quota_gauges>()));
  route({{"a", a}, {"b", http("b"), pool}});
  // Someone else holds b's only lease, so the failover has to queue for it.
  caf::scoped_actor holder{*sys};
  holder->send(pool, acquire_atom::value, std::uint32_t{0});
  sched->run();
  quota_lease held;
  holder->receive([&](quota_lease& l) { held = l; },
                  caf::after(std::chrono::seconds(0)) >> [] { FAIL() << "no lease"; });
  ASSERT_TRUE(held.granted);

  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  caf::anon_send_exit(a, caf::exit_reason::unhandled_exception);
  sched->run();
  // Attempt 1 failed and attempt 2 has not started: the attempt number alone would still
  // let attempt 1's late delta through.
  ASSERT_EQ(state_of(s).attempt, 1u);
  ASSERT_EQ(state_of(s).phase, session_phase::queued);
  driver_delivers(1, stream_event::make_delta("from a "));
  EXPECT_TRUE(sink->events.empty());
  EXPECT_TRUE(state_of(s).log.empty());
  EXPECT_EQ(state_of(s).phase, session_phase::queued);

  holder->send(pool, release_atom::value, held.id);
  sched->run();
  ASSERT_EQ(state_of(s).attempt, 2u);
  ASSERT_EQ(runner->callbacks.size(), 2u);
  driver_delivers(2, stream_event::make_delta("from b "));
  driver_delivers(2, stream_event::make_finish("stop"));
  EXPECT_EQ(sink->text(), "from b ");
  EXPECT_EQ(sink->terminal_count(), 1u);
}

TEST_F(session_late_event_test, a_delta_after_the_attempt_deadline_is_dropped) {
  options.attempt_deadline = std::chrono::milliseconds(100);
  route({{"h", http("h")}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(std::chrono::milliseconds(110));
  ASSERT_EQ(sink->terminal_count(), 1u);
  EXPECT_EQ(sink->last().code, error_code::upstream_first_byte_timeout);
  EXPECT_EQ(runner->cancels, std::vector<transfer_id>{1});
  driver_delivers(1, stream_event::make_delta("too late "));
  EXPECT_EQ(sink->events.size(), 1u);
  EXPECT_EQ(state_of(s).log.size(), 1u);
}

}  // namespace
}  // namespace streamgate
