// The listener's answer to accept() failures at the descriptor limit: a growing wait, a log
// line now and then, and a max_connections that fits the descriptors.

#include "transports/server/accept_backoff.hpp"

#include <gtest/gtest.h>

namespace streamgate {
namespace {

using namespace std::chrono_literals;

TEST(accept_backoff, the_wait_doubles_from_10_ms_to_1_s_and_restarts_after_a_success) {
  accept_backoff b;
  auto t = accept_backoff::clock::now();
  std::vector<long> waits;
  for (int i = 0; i < 9; ++i) waits.push_back(static_cast<long>(b.failed(t).count()));
  EXPECT_EQ(waits, (std::vector<long>{10, 20, 40, 80, 160, 320, 640, 1000, 1000}));
  b.succeeded();
  EXPECT_EQ(b.failed(t), 10ms);
}

TEST(accept_backoff, logs_the_first_failure_then_at_most_once_per_interval_with_a_count) {
  accept_backoff b;
  auto t = accept_backoff::clock::now();
  b.failed(t);
  EXPECT_EQ(b.to_log(), 1u);
  for (int i = 0; i < 1000; ++i) {
    b.failed(t + 1s);
    EXPECT_FALSE(b.to_log().has_value());
  }
  b.succeeded();  // a success does not start a new log line: churn at the limit stays quiet
  b.failed(t + 2s);
  EXPECT_FALSE(b.to_log().has_value());
  b.failed(t + accept_backoff::log_interval);
  EXPECT_EQ(b.to_log(), 1002u);
}

TEST(connection_limit_for, leaves_descriptors_for_the_rest_of_the_process) {
  EXPECT_EQ(connection_limit_for(20000, 1048576), 20000u);  // plenty: as configured
  EXPECT_EQ(connection_limit_for(20000, 20000), 15000u);
  EXPECT_EQ(connection_limit_for(20000, 1024), 768u);
  EXPECT_EQ(connection_limit_for(20000, 256), 128u);
  EXPECT_EQ(connection_limit_for(20000, 100), 50u);
  EXPECT_EQ(connection_limit_for(10, 256), 10u);
  EXPECT_EQ(connection_limit_for(20000, 1), 1u);
}

}  // namespace
}  // namespace streamgate
