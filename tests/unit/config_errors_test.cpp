// Configuration mistakes that config_test does not reach: each names the key and the value.

#include "app/config.hpp"

#include <gtest/gtest.h>

namespace streamgate {
namespace {

std::string error_of(const std::string& json) {
  app_config cfg;
  try {
    apply_config_json(json, cfg);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

// An inline "quota" makes a pool named after its provider; a shared pool of that name
// already declared in quota_pools would be silently replaced.
TEST(config_errors, an_inline_quota_may_not_replace_a_shared_pool_of_the_same_name) {
  EXPECT_EQ(error_of(R"({"quota_pools": {"a": {"rpm": 10}},
                         "providers": [{"name": "a", "models": ["m"], "quota": {"rpm": 5}}]})"),
            "providers[0].quota: a quota pool named 'a' already exists");
}

TEST(config_errors, a_port_that_is_not_a_number_is_refused) {
  EXPECT_EQ(error_of(R"({"listen": "127.0.0.1:http"})"), "listen: invalid port 'http'");
  EXPECT_EQ(error_of(R"({"listen": "127.0.0.1:80x"})"), "listen: invalid port '80x'");
  EXPECT_EQ(error_of(R"({"listen": "127.0.0.1:-1"})"), "listen: invalid port '-1'");
  EXPECT_EQ(error_of(R"({"listen": ":80"})"), "listen: expected HOST:PORT, got ':80'");
}

TEST(config_errors, an_unknown_log_level_flag_is_refused_and_a_known_one_overrides_the_file) {
  EXPECT_THROW(parse_command_line({"--log-level", "loud"}), config_error);
  try {
    parse_command_line({"--log-level", "loud"});
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "--log-level: unknown level 'loud'");
  }
  auto r = parse_command_line({"--log-level", "trace", "--web-root", "/srv/page"});
  EXPECT_EQ(r.config.log_level, log::level::trace);
  EXPECT_EQ(r.config.http.web_root, "/srv/page");
}

}  // namespace
}  // namespace streamgate
