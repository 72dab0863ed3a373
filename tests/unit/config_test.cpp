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

TEST(config, defaults_serve_the_mock_provider) {
  app_config cfg;
  EXPECT_EQ(cfg.http.host, "127.0.0.1");
  EXPECT_EQ(cfg.http.port, 8080);
  ASSERT_EQ(cfg.gateway.providers.size(), 1u);
  EXPECT_EQ(cfg.gateway.providers[0].models, std::vector<std::string>{"mock"});
}

TEST(config, reads_the_websocket_keys) {
  app_config cfg;
  apply_config_json(R"({"http": {"ws_max_message_bytes": 4096, "ws_max_streams": 3,
                                 "ws_ping_timeout_ms": 500, "ws_heartbeat_ms": 0}})",
                    cfg);
  EXPECT_EQ(cfg.http.ws_max_message_bytes, 4096u);
  EXPECT_EQ(cfg.http.ws_max_streams, 3u);
  EXPECT_EQ(cfg.http.ws_ping_timeout.count(), 500);
  EXPECT_EQ(cfg.http.ws_heartbeat.count(), 0);
  EXPECT_NE(error_of(R"({"http": {"ws_max_streams": 0}})"), "no error");
}

TEST(config, reads_a_complete_file) {
  app_config cfg;
  apply_config_json(R"({
    "listen": "0.0.0.0:9000",
    "log": {"level": "debug"},
    "http": {"threads": 2, "max_body_bytes": 2048, "sse_keepalive_ms": 5000},
    "sessions": {"resume_window_ms": 1000, "max_sessions": 10, "max_attempts": 2},
    "shutdown": {"drain_ms": 100},
    "providers": [{"name": "fast", "kind": "mock", "models": ["mock", "fast"],
                   "mock": {"tokens": 5, "first_token_ms": 0, "interval_ms": 1}}],
    "routes": {"fast": ["fast"]}
  })",
                    cfg);
  EXPECT_EQ(cfg.http.host, "0.0.0.0");
  EXPECT_EQ(cfg.http.port, 9000);
  EXPECT_EQ(cfg.log_level, log::level::debug);
  EXPECT_EQ(cfg.http.threads, 2u);
  EXPECT_EQ(cfg.http.max_body_bytes, 2048u);
  EXPECT_EQ(cfg.http.sse_keepalive.count(), 5000);
  EXPECT_EQ(cfg.gateway.sessions.resume_window.count(), 1000);
  EXPECT_EQ(cfg.gateway.max_sessions, 10u);
  EXPECT_EQ(cfg.drain.count(), 100);
  ASSERT_EQ(cfg.gateway.providers.size(), 1u);
  EXPECT_EQ(cfg.gateway.providers[0].mock.tokens, 5u);
  EXPECT_EQ(cfg.gateway.routes.at("fast"), std::vector<std::string>{"fast"});
}

TEST(config, errors_name_the_key_path) {
  EXPECT_EQ(error_of(R"({"listne": "x"})"), "listne: unknown key");
  EXPECT_EQ(error_of(R"({"http": {"threads": "two"}})"), "http.threads: expected integer");
  EXPECT_EQ(error_of(R"({"http": {"thread": 2}})"), "http.thread: unknown key");
  EXPECT_EQ(error_of(R"({"http": {"threads": 0}})"), "http.threads: must be between 1 and 64");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "models": ["m"], "mock": {"tokens": "x"}}]})"),
            "providers[0].mock.tokens: expected integer");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "models": [3]}]})"),
            "providers[0].models[0]: expected string");
  EXPECT_EQ(
      error_of(
          R"({"providers": [{"name": "a", "models": ["m"]}, {"name": "a", "models": ["m"]}]})"),
      "providers[1].name: duplicate provider 'a'");
  EXPECT_EQ(error_of(R"({"log": {"level": "loud"}})"), "log.level: unknown level 'loud'");
  EXPECT_EQ(error_of(R"({"listen": "nowhere"})"), "listen: expected HOST:PORT, got 'nowhere'");
  EXPECT_EQ(error_of(R"({"listen": "h:99999"})"), "listen: invalid port '99999'");
  EXPECT_EQ(error_of("[1]"), "(root): expected object");
  EXPECT_EQ(error_of("{"), "(root): the configuration is not valid JSON");
}

TEST(config, command_line_overrides_the_file_and_rejects_unknown_flags) {
  auto r = parse_command_line({"--listen", "127.0.0.1:0", "--log-level", "warn"});
  EXPECT_EQ(r.config.http.port, 0);
  EXPECT_EQ(r.config.log_level, log::level::warn);
  EXPECT_TRUE(parse_command_line({"--help"}).help);
  EXPECT_THROW(parse_command_line({"--frobnicate"}), config_error);
  EXPECT_THROW(parse_command_line({"--listen"}), config_error);
  EXPECT_THROW(parse_command_line({"--config", "/nonexistent/file.json"}), config_error);
  EXPECT_NE(usage_text().find("--listen HOST:PORT"), std::string::npos);
}

}  // namespace
}  // namespace streamgate
