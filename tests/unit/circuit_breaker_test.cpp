#include "supervision/circuit_breaker.hpp"

#include <gtest/gtest.h>

namespace streamgate {
namespace {

using namespace std::chrono_literals;
using time_point = circuit_breaker::clock::time_point;

breaker_options opts() {
  breaker_options o;
  o.failure_threshold = 3;
  o.rate_window = 0;
  o.cooldown = 5s;
  o.half_open_probes = 2;
  return o;
}

TEST(circuit_breaker, opens_after_n_consecutive_failures_and_a_success_resets_the_count) {
  circuit_breaker b{opts()};
  time_point t{};
  EXPECT_FALSE(b.record(false, t));
  EXPECT_FALSE(b.record(false, t));
  EXPECT_FALSE(b.record(true, t));  // the run is broken
  EXPECT_FALSE(b.record(false, t));
  EXPECT_FALSE(b.record(false, t));
  EXPECT_EQ(b.state(), breaker_state::closed);
  EXPECT_TRUE(b.record(false, t));
  EXPECT_EQ(b.state(), breaker_state::open);
  EXPECT_EQ(b.reopens_at(), t + 5s);
}

TEST(circuit_breaker, half_opens_after_the_cooldown_and_closes_when_every_probe_succeeds) {
  circuit_breaker b{opts()};
  time_point t{};
  for (int i = 0; i < 3; ++i) b.record(false, t);
  EXPECT_FALSE(b.poll(t + 4999ms));
  EXPECT_EQ(b.state(), breaker_state::open);
  EXPECT_FALSE(b.record(true, t + 1s));  // a late success while open changes nothing
  EXPECT_TRUE(b.poll(t + 5s));
  EXPECT_EQ(b.state(), breaker_state::half_open);
  EXPECT_FALSE(b.record(true, t + 6s));  // one of two probes
  EXPECT_TRUE(b.record(true, t + 6s));
  EXPECT_EQ(b.state(), breaker_state::closed);
  EXPECT_EQ(b.transitions(), 3u);
  EXPECT_EQ(b.consecutive_failures(), 0u);
}

TEST(circuit_breaker, a_failed_probe_opens_it_again_for_another_cooldown) {
  circuit_breaker b{opts()};
  time_point t{};
  for (int i = 0; i < 3; ++i) b.record(false, t);
  b.poll(t + 5s);
  EXPECT_TRUE(b.record(false, t + 6s));
  EXPECT_EQ(b.state(), breaker_state::open);
  EXPECT_FALSE(b.poll(t + 10s));
  EXPECT_TRUE(b.poll(t + 11s));
}

TEST(circuit_breaker, opens_on_the_failure_rate_over_a_full_window) {
  auto o = opts();
  o.failure_threshold = 100;
  o.rate_window = 4;
  o.failure_rate = 0.5;
  circuit_breaker b{o};
  time_point t{};
  b.record(false, t);
  b.record(true, t);
  b.record(false, t);
  EXPECT_EQ(b.state(), breaker_state::closed);  // three outcomes are not a window yet
  EXPECT_TRUE(b.record(true, t));               // 2 of 4 failed
  EXPECT_EQ(b.state(), breaker_state::open);
}

TEST(circuit_breaker, a_failure_rate_below_the_threshold_keeps_it_closed) {
  auto o = opts();
  o.failure_threshold = 100;
  o.rate_window = 4;
  o.failure_rate = 0.75;
  circuit_breaker b{o};
  time_point t{};
  for (int i = 0; i < 20; ++i) b.record(i % 2 == 0, t);  // 50 % failures, forever
  EXPECT_EQ(b.state(), breaker_state::closed);
}

}  // namespace
}  // namespace streamgate
