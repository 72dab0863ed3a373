// The session logs' global budget: what an event costs, who is evicted first, and that every
// byte comes back.

#include "actors/log_budget.hpp"
#include "actors/event_log.hpp"

#include <gtest/gtest.h>

#include <malloc.h>

#include <memory>
#include <string>
#include <vector>

namespace streamgate {
namespace {

using budget_ptr = std::shared_ptr<log_budget>;

event_log::options log_options(budget_ptr budget = nullptr, log_budget::evict_fn evicted = {}) {
  event_log::options o;
  o.now = [] { return event_log::clock::now(); };
  o.budget = std::move(budget);
  o.evicted = std::move(evicted);
  return o;
}

// Sessions as the budget sees them: an account each, and the order they were told to go in.
class budget_fixture : public ::testing::Test {
 protected:
  log_budget::account& open(const std::string& name) {
    accounts.push_back(
        std::make_unique<log_budget::account>(budget, [this, name] { evicted.push_back(name); }));
    return *accounts.back();
  }

  budget_ptr budget = std::make_shared<log_budget>(1000);
  std::vector<std::unique_ptr<log_budget::account>> accounts;
  std::vector<std::string> evicted;
};

TEST_F(budget_fixture, under_the_budget_nobody_goes) {
  open("a").charge(600);
  open("b").charge(400);
  EXPECT_EQ(budget->held(), 1000u);
  EXPECT_TRUE(evicted.empty());
}

TEST_F(budget_fixture, ended_sessions_go_first_oldest_ended_first_then_the_largest_running) {
  auto& running_small = open("running_small");
  auto& ended_second = open("ended_second");
  auto& ended_first = open("ended_first");
  auto& running_large = open("running_large");
  running_small.charge(100);
  ended_second.charge(200);
  ended_first.charge(200);
  running_large.charge(300);
  ended_first.ended();
  ended_second.ended();
  EXPECT_TRUE(evicted.empty());  // 800 of 1000

  running_small.charge(250);  // 1050: one ended session is enough
  EXPECT_EQ(evicted, (std::vector<std::string>{"ended_first"}));
  running_small.charge(200);  // 1250 held, 200 of it leaving: the next ended one
  EXPECT_EQ(evicted, (std::vector<std::string>{"ended_first", "ended_second"}));
  running_small.charge(300);  // 1550, 400 leaving: no ended one left, the largest running
  EXPECT_EQ(evicted, (std::vector<std::string>{"ended_first", "ended_second", "running_small"}));
  EXPECT_EQ(budget->evicted_ended(), 2u);
  EXPECT_EQ(budget->evicted_running(), 1u);
}

TEST_F(budget_fixture, a_log_told_to_go_may_still_grow_without_evicting_anyone_else) {
  auto& big = open("big");
  auto& other = open("other");
  other.charge(400);
  big.charge(700);  // 1100: big is the largest
  ASSERT_EQ(evicted, (std::vector<std::string>{"big"}));
  for (int i = 0; i < 100; ++i) big.charge(100);  // its lane goes on until it hears the news
  big.ended();                                    // and its terminal event is logged
  EXPECT_EQ(evicted, (std::vector<std::string>{"big"}));
  accounts.front().reset();  // the session is gone, its log with it
  EXPECT_EQ(budget->held(), 400u);
  other.charge(600);  // exactly the budget
  EXPECT_EQ(evicted, (std::vector<std::string>{"big"}));
}

TEST_F(budget_fixture, every_byte_comes_back_when_the_logs_go) {
  auto& a = open("a");
  a.charge(300);
  a.ended();
  open("b").charge(2000);  // over on its own: the ended one goes, then b itself
  EXPECT_EQ(evicted, (std::vector<std::string>{"a", "b"}));
  accounts.clear();
  EXPECT_EQ(budget->held(), 0u);
}

TEST(log_budget_release, whoever_trims_the_heap_hears_once_per_amount_given_back) {
  auto budget = std::make_shared<log_budget>(1 << 20);
  int heard = 0;
  budget->on_released(1000, [&] { ++heard; });
  for (int i = 0; i < 5; ++i) {
    log_budget::account a{budget, {}};
    a.charge(400);
  }
  EXPECT_EQ(heard, 1);  // 2000 given back; the hook came once, at 1200
  log_budget::account{budget, {}}.charge(0);
  EXPECT_EQ(heard, 1);
  {
    log_budget::account big{budget, {}};
    big.charge(5000);
  }
  EXPECT_EQ(heard, 2);  // once per pass, however much
}

TEST(event_log_budget, a_log_charges_each_event_and_gives_everything_back_when_destroyed) {
  auto budget = std::make_shared<log_budget>(std::uint64_t{1} << 30);
  {
    event_log log{log_options(budget)};
    log.append(stream_event::make_delta("short "));
    auto one = log.held_bytes();
    EXPECT_GE(one, sizeof(stream_event));  // the event itself, at least
    log.append(stream_event::make_delta(std::string(1000, 'x')));
    EXPECT_GE(log.held_bytes() - one, sizeof(stream_event) + 1000);  // its text too
    log.append_from_upstream(0, stream_event::make_delta("refused: no lane"));
    log.open_lane(1);
    log.append_from_upstream(1, stream_event::make_delta("from the lane "));
    log.append(stream_event::make_finish("stop"));
    log.append(stream_event::make_delta("after the end: not logged"));
    EXPECT_EQ(log.size(), 4u);
    EXPECT_EQ(budget->held(), log.held_bytes());
  }
  EXPECT_EQ(budget->held(), 0u);
}

TEST(event_log_budget, a_log_past_the_budget_asks_its_session_to_go) {
  auto budget = std::make_shared<log_budget>(64 * 1024);
  int told = 0;
  event_log log{log_options(budget, [&] { ++told; })};
  log.open_lane(1);
  while (told == 0 && log.size() < 100000)
    log.append_from_upstream(1, stream_event::make_delta("token "));
  EXPECT_EQ(told, 1);
  // From now on the lane takes nothing: the budget holds even before the session hears it.
  auto held = log.held_bytes();
  EXPECT_FALSE(log.append_from_upstream(1, stream_event::make_delta("token ")));
  EXPECT_EQ(log.held_bytes(), held);
  EXPECT_GT(log.held_bytes(), 64u * 1024);
  // At once, not some time later: one event and one growth of the log's index too many.
  EXPECT_LT(log.held_bytes(), 80u * 1024);
}

// The count is honest: it matches what glibc's allocator says the events took, so the budget
// bounds the memory an operator sees. (Sanitizers replace malloc and its statistics.)
TEST(event_log_budget, what_a_log_charges_is_what_malloc_spent_on_it) {
  constexpr int tokens = 100000;
  auto in_use = [] {
    auto m = mallinfo2();
    return static_cast<double>(m.uordblks + m.hblkhd);
  };
  auto before = in_use();
  auto log = std::make_unique<event_log>(log_options());
  log->open_lane(1);
  for (int i = 0; i < tokens; ++i) log->append_from_upstream(1, stream_event::make_delta("tok "));
  auto spent = in_use() - before;
  auto charged = static_cast<double>(log->held_bytes());
  EXPECT_GE(charged, tokens * static_cast<double>(sizeof(stream_event)));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_NEAR(charged / spent, 1.0, 0.1) << "charged " << charged << ", malloc spent " << spent;
#endif
  (void)spent;
}

}  // namespace
}  // namespace streamgate
