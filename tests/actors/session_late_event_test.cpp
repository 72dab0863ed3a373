// Late events of an abandoned attempt, end to end: a session over real HTTP provider actors
// whose driver thread the test plays by hand. An HTTP transfer's deltas go from the driver
// thread into the session's log through the lane, and the driver may still deliver some
// after the session stopped the attempt (until it takes the cancel): "nothing after a
// cancel" is the session's rule, for the lane and for events that come by mailbox alike.

#include "actors/event_log.hpp"
#include "actors/quota_pool.hpp"
#include "tests/actors/scripted_runner.hpp"
#include "tests/actors/session_fixture.hpp"

namespace streamgate {
namespace {

using namespace std::chrono_literals;
using test::recording_sink;

class session_late_event_test : public test::session_fixture {
 protected:
  provider_actor http(const std::string& name) {
    http_provider_config pc;
    pc.name = name;
    pc.base_url = "http://" + name + ".test/v1";
    auto parts = test::spawn_http_provider(*sys, pc, runner, &registry.upstreams);
    openers[name] = parts.opener;
    return parts.handle;
  }

  // What the driver thread does: hand transfer `id`'s next event to its owner.
  void driver_delivers(transfer_id id, stream_event ev) {
    runner->callbacks.at(id)(std::move(ev));
    sched->run();
  }

  // A pool of one lease, held by someone else until release_held().
  quota_pool_actor full_pool() {
    quota_options qo;
    qo.max_concurrent = 1;
    pool = keep(sys->spawn(quota_pool, std::string{"b"}, qo, std::make_shared<quota_gauges>()));
    holder->send(pool, acquire_atom::value, std::uint32_t{0});
    sched->run();
    holder->receive([&](quota_lease& l) { held = l; },
                    caf::after(std::chrono::seconds(0)) >> [] { FAIL() << "no lease"; });
    EXPECT_TRUE(held.granted);
    return pool;
  }
  void release_held() {
    holder->send(pool, release_atom::value, held.id);
    sched->run();
  }

  std::shared_ptr<test::scripted_runner> runner = std::make_shared<test::scripted_runner>();
  caf::scoped_actor holder{*sys};
  quota_pool_actor pool;
  quota_lease held;
};

TEST_F(session_late_event_test, a_driver_delta_after_cancel_reaches_neither_sink_nor_log) {
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
  EXPECT_EQ(state_of(s).log->size(), 2u);
}

TEST_F(session_late_event_test, a_failed_attempts_driver_delta_is_dropped_while_the_next_waits) {
  auto a = http("a");
  route({{"a", a}, {"b", http("b"), full_pool()}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  // Provider a crashes before the first token (its stream with it): the failover to b has to
  // queue for b's only lease, so attempt 2 has not started yet.
  caf::anon_send_exit(a, caf::exit_reason::unhandled_exception);
  sched->run();
  ASSERT_EQ(state_of(s).attempt, 1u);
  ASSERT_EQ(state_of(s).phase, session_phase::queued);
  driver_delivers(1, stream_event::make_delta("from a "));
  EXPECT_TRUE(sink->events.empty());
  EXPECT_EQ(state_of(s).log->size(), 0u);
  EXPECT_EQ(state_of(s).phase, session_phase::queued);

  release_held();
  ASSERT_EQ(state_of(s).attempt, 2u);
  ASSERT_EQ(runner->callbacks.size(), 2u);
  driver_delivers(1, stream_event::make_delta("more from a "));
  driver_delivers(2, stream_event::make_delta("from b "));
  driver_delivers(2, stream_event::make_finish("stop"));
  EXPECT_EQ(sink->text(), "from b ");
  EXPECT_EQ(sink->terminal_count(), 1u);
}

TEST_F(session_late_event_test, a_failed_attempts_mailbox_delta_is_dropped_while_the_next_waits) {
  // An upstream that reports by mailbox, and whose delta comes after its error.
  route({{"a",
          scripted({stream_event::make_error(std::string{error_code::upstream_server_error}, "503"),
                    stream_event::make_delta("from a ")})},
         {"b", http("b"), full_pool()}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  // Attempt 1 failed and attempt 2 waits for a lease: the attempt number alone would still
  // let attempt 1's delta in.
  ASSERT_EQ(state_of(s).attempt, 1u);
  EXPECT_TRUE(sink->events.empty());
  EXPECT_EQ(state_of(s).phase, session_phase::queued);

  release_held();
  ASSERT_EQ(state_of(s).attempt, 2u);
  driver_delivers(1, stream_event::make_delta("from b "));
  driver_delivers(1, stream_event::make_finish("stop"));
  EXPECT_EQ(sink->text(), "from b ");
}

TEST_F(session_late_event_test, a_driver_delta_after_the_attempt_deadline_is_dropped) {
  options.attempt_deadline = 100ms;
  route({{"h", http("h")}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  advance(110ms);
  ASSERT_EQ(sink->terminal_count(), 1u);
  EXPECT_EQ(sink->last().code, error_code::upstream_first_byte_timeout);
  EXPECT_EQ(runner->cancels, std::vector<transfer_id>{1});
  driver_delivers(1, stream_event::make_delta("too late "));
  EXPECT_EQ(sink->events.size(), 1u);
  EXPECT_EQ(state_of(s).log->size(), 1u);
}

// A session that waited for its lease while its provider crashed and came back opens through
// a closed opener: it looks the current one up and opens there, and the stale handle is not
// counted as an attempt.
TEST_F(session_late_event_test, a_closed_opener_is_looked_up_again_and_the_new_one_opens) {
  route({{"h", http("h"), full_pool()}});
  auto closing = std::static_pointer_cast<http_upstream>(openers["h"]);
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  ASSERT_TRUE(runner->requests.empty());  // queued for the lease
  closing->close("exit_reason(unhandled_exception)");
  auto fresh = http("h");  // the engine's restart, published to the route table
  caf::anon_send(router, provider_atom::value, std::string{"h"}, keep(fresh), openers["h"]);
  sched->run();
  release_held();
  ASSERT_EQ(runner->requests.size(), 1u);
  EXPECT_TRUE(state_of(s).transfer);
  EXPECT_EQ(state_of(s).attempt, 1u);
  driver_delivers(1, stream_event::make_delta("from the new one"));
  driver_delivers(1, stream_event::make_finish("stop"));
  EXPECT_EQ(sink->text(), "from the new one");
  EXPECT_EQ(sink->last().kind, event_kind::finish);
}

}  // namespace
}  // namespace streamgate
