// The names the server writes into logs, metrics labels and the admin view: every enum value
// has its own, stable name, and log::init with a file sends the JSON lines there.

#include "actors/route_config.hpp"
#include "actors/session.hpp"
#include "supervision/circuit_breaker.hpp"
#include "telemetry/log.hpp"
#include "transports/server/server_context.hpp"

#include <streamgate/stream_event.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace streamgate {
namespace {

TEST(names, every_event_kind_has_its_own_name) {
  EXPECT_STREQ(to_string(event_kind::delta), "delta");
  EXPECT_STREQ(to_string(event_kind::usage), "usage");
  EXPECT_STREQ(to_string(event_kind::finish), "finish");
  EXPECT_STREQ(to_string(event_kind::error), "error");
  EXPECT_STREQ(to_string(event_kind::cancelled), "cancelled");
  EXPECT_STREQ(to_string(event_kind::heartbeat), "heartbeat");
}

TEST(names, every_session_phase_has_its_own_name) {
  std::set<std::string> seen;
  for (auto p : {session_phase::queued, session_phase::streaming, session_phase::finished,
                 session_phase::cancelled, session_phase::failed})
    seen.insert(to_string(p));
  EXPECT_EQ(seen,
            (std::set<std::string>{"queued", "streaming", "finished", "cancelled", "failed"}));
}

TEST(names, strategies_breaker_states_and_drop_reasons_read_as_configured_and_exported) {
  for (auto s :
       {route_strategy::priority, route_strategy::weighted, route_strategy::least_loaded}) {
    route_strategy back = route_strategy::priority;
    ASSERT_TRUE(parse_route_strategy(to_string(s), back)) << to_string(s);
    EXPECT_EQ(back, s);
  }
  EXPECT_STREQ(to_string(breaker_state::closed), "closed");
  EXPECT_STREQ(to_string(breaker_state::open), "open");
  EXPECT_STREQ(to_string(breaker_state::half_open), "half_open");
  using why = server_context::drop_reason;
  EXPECT_STREQ(server_context::name(why::slow_consumer), "slow_consumer");
  EXPECT_STREQ(server_context::name(why::ping_timeout), "ping_timeout");
  EXPECT_STREQ(server_context::name(why::write_timeout), "write_timeout");
}

TEST(names, log_levels_round_trip_through_their_names) {
  for (auto l : {log::level::trace, log::level::debug, log::level::info, log::level::warn,
                 log::level::error, log::level::off}) {
    log::level back = log::level::info;
    ASSERT_TRUE(log::parse_level(log::to_string(l), back)) << log::to_string(l);
    EXPECT_EQ(back, l);
  }
  log::level unchanged = log::level::warn;
  EXPECT_FALSE(log::parse_level("verbose", unchanged));
  EXPECT_EQ(unchanged, log::level::warn);
}

// The `log.file` setting: one JSON object per line in that file, filtered by the level.
TEST(names, a_log_file_gets_one_json_line_per_event_at_or_above_the_level) {
  char path[] = "/tmp/sg_log_test_XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  log::init(log::level::debug, path);
  EXPECT_TRUE(log::enabled(log::level::debug));
  EXPECT_FALSE(log::enabled(log::level::trace));
  EXPECT_FALSE(log::enabled(log::level::off));
  log::write(log::level::warn, "names_test_event", {{"answer", 42}});
  log::set_level(log::level::error);
  if (log::enabled(log::level::warn)) log::write(log::level::warn, "filtered_out", {});

  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path);
  std::string line;
  std::getline(text, line);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["event"], "names_test_event");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["answer"], 42);
  EXPECT_TRUE(j["ts"].is_string());
  EXPECT_EQ(text.str().find("filtered_out"), std::string::npos);
}

}  // namespace
}  // namespace streamgate
