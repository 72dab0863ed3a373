#include "supervision/engine.hpp"

#include <gtest/gtest.h>

namespace streamgate {
namespace {

using namespace std::chrono_literals;
using time_point = caf::actor_clock::time_point;

TEST(restart_policy, backs_off_exponentially_then_gives_up) {
  restart_options o;
  o.max_restarts = 4;
  o.window = 60s;
  o.backoff_initial = 100ms;
  o.backoff_max = 300ms;
  std::deque<time_point> recent;
  time_point t{};
  EXPECT_EQ(next_restart_delay(o, recent, t), 100ms);
  EXPECT_EQ(next_restart_delay(o, recent, t + 1s), 200ms);
  EXPECT_EQ(next_restart_delay(o, recent, t + 2s), 300ms);  // capped
  EXPECT_EQ(next_restart_delay(o, recent, t + 3s), 300ms);
  EXPECT_EQ(next_restart_delay(o, recent, t + 4s), std::nullopt);  // too many in the window
}

TEST(restart_policy, crashes_older_than_the_window_are_forgiven) {
  restart_options o;
  o.max_restarts = 2;
  o.window = 10s;
  std::deque<time_point> recent;
  time_point t{};
  ASSERT_TRUE(next_restart_delay(o, recent, t));
  ASSERT_TRUE(next_restart_delay(o, recent, t + 1s));
  EXPECT_EQ(next_restart_delay(o, recent, t + 30s), o.backoff_initial);
}

TEST(restart_policy, zero_restarts_means_down_at_the_first_crash) {
  restart_options o;
  o.max_restarts = 0;
  std::deque<time_point> recent;
  EXPECT_EQ(next_restart_delay(o, recent, time_point{}), std::nullopt);
}

}  // namespace
}  // namespace streamgate
