// Sessions under the global log budget: ended sessions give way oldest first, and a running
// session that holds the most ends with log_budget_exceeded; every byte comes back.

#include "actors/quota_pool.hpp"
#include "tests/actors/session_fixture.hpp"

namespace streamgate {
namespace {

using namespace std::chrono_literals;
using test::recording_sink;

class session_budget_test : public test::session_fixture {
 protected:
  // What the log of one finished session of the routed provider holds.
  std::uint64_t one_finished_log() {
    auto s = start(std::make_shared<recording_sink>());
    auto bytes = state_of(s).log->held_bytes();
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    sched->run();
    return bytes;
  }

  bool alive(const std::string& id) const { return registry.find(id).has_value(); }
};

TEST_F(session_budget_test, ended_sessions_give_way_before_their_resume_window_oldest_first) {
  route({{"mock", mock({2000, 0, 0})}});
  auto one_log = one_finished_log();
  // Room for two finished logs and half of a third.
  budget = std::make_shared<log_budget>(one_log * 5 / 2);
  std::vector<std::string> ids;
  std::vector<std::shared_ptr<recording_sink>> sinks;
  for (int i = 0; i < 3; ++i) {
    sinks.push_back(std::make_shared<recording_sink>());
    ids.push_back(state_of(start(sinks.back())).id);
    sched->run();
  }
  // The third one's log pushed the total over: the oldest ended session went, the other
  // ended one stays for its resume window, and the running one streamed to the end.
  EXPECT_FALSE(alive(ids[0]));
  EXPECT_TRUE(alive(ids[1]));
  EXPECT_TRUE(alive(ids[2]));
  EXPECT_EQ(budget->evicted_ended(), 1u);
  EXPECT_EQ(budget->evicted_running(), 0u);
  for (auto& sink : sinks) EXPECT_EQ(sink->text(), mock_text(2000));
  EXPECT_EQ(budget->held(), 2 * one_log);
  // The rest expire with their window, and nothing is held afterwards.
  advance(1100ms, 100ms);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(budget->held(), 0u);
}

TEST_F(session_budget_test, a_running_session_over_the_budget_ends_with_log_budget_exceeded) {
  auto gauges = std::make_shared<quota_gauges>();
  quota_options q;
  q.max_concurrent = 1;
  auto pool = keep(sys->spawn(quota_pool, std::string{"pool"}, q, gauges));
  // A token a millisecond: the session hears the news between two tokens, as it would with
  // threads (here a generator that never waits would run to its end first).
  route({{"mock", mock({100000, 0, 1}), pool}});
  budget = std::make_shared<log_budget>(256 * 1024);
  auto sink = std::make_shared<recording_sink>();
  auto id = state_of(start(sink)).id;
  advance(3s, 1ms);
  // The client got what was streamed, then the documented error; the session is gone at once
  // (nothing to resume), with its lease and its upstream, and its log is given back.
  ASSERT_FALSE(sink->events.empty());
  EXPECT_EQ(sink->last().kind, event_kind::error);
  EXPECT_EQ(sink->last().code, error_code::log_budget_exceeded);
  EXPECT_GT(sink->events.size(), 100u);
  EXPECT_LT(sink->events.size(), 100000u);
  EXPECT_FALSE(alive(id));
  EXPECT_EQ(budget->evicted_running(), 1u);
  EXPECT_EQ(gauges->leases_in_use.load(), 0);
  EXPECT_EQ(registry.upstreams.load(), 0);
  EXPECT_EQ(budget->held(), 0u);
  // The budget is free again for the next session.
  route({{"mock", mock({3, 0, 0}), pool}});
  auto next = std::make_shared<recording_sink>();
  start(next);
  EXPECT_EQ(next->text(), mock_text(3));
}

}  // namespace
}  // namespace streamgate
