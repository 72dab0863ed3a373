#include "app/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include <unistd.h>

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

TEST(config, reads_where_the_upstream_driver_runs) {
  app_config cfg;
  EXPECT_FALSE(cfg.http.upstream_on_io_threads);
  apply_config_json(R"({"http": {"upstream_on_io_threads": true, "admin": true}})", cfg);
  EXPECT_TRUE(cfg.http.upstream_on_io_threads);
  EXPECT_TRUE(cfg.http.admin);
  EXPECT_EQ(error_of(R"({"http": {"upstream_on_io_threads": 1}})"),
            "http.upstream_on_io_threads: expected boolean");

  EXPECT_EQ(cfg.gateway.upstream_threads, 1u);
  app_config two;
  apply_config_json(R"({"upstream_threads": 2})", two);
  EXPECT_EQ(two.gateway.upstream_threads, 2u);
  EXPECT_EQ(error_of(R"({"upstream_threads": 0})"), "upstream_threads: must be between 1 and 64");
  EXPECT_EQ(error_of(R"({"upstream_threads": "2"})"), "upstream_threads: expected integer");
  EXPECT_EQ(error_of(R"({"upstream_threads": 2, "http": {"upstream_on_io_threads": true}})"),
            "upstream_threads: more than one driver thread and http.upstream_on_io_threads "
            "exclude each other");
}

TEST(config, reads_a_complete_file) {
  app_config cfg;
  apply_config_json(R"({
    "listen": "0.0.0.0:9000",
    "log": {"level": "debug"},
    "http": {"threads": 2, "max_body_bytes": 2048, "sse_keepalive_ms": 5000,
             "write_timeout_ms": 7000},
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
  EXPECT_EQ(cfg.http.write_timeout.count(), 7000);
  EXPECT_EQ(cfg.gateway.sessions.resume_window.count(), 1000);
  EXPECT_EQ(cfg.gateway.max_sessions, 10u);
  EXPECT_EQ(cfg.drain.count(), 100);
  ASSERT_EQ(cfg.gateway.providers.size(), 1u);
  EXPECT_EQ(cfg.gateway.providers[0].mock.tokens, 5u);
  ASSERT_EQ(cfg.gateway.routes.at("fast").targets.size(), 1u);
  EXPECT_EQ(cfg.gateway.routes.at("fast").targets[0].provider, "fast");
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

TEST(config, a_deeply_nested_file_is_refused_with_the_limit_named) {
  auto deep = [](std::size_t levels) {
    return R"({"log": )" + std::string(levels, '[') + std::string(levels, ']') + "}";
  };
  EXPECT_EQ(error_of(deep(200000)),
            "(root): the configuration nests arrays or objects more than 64 levels deep");
  EXPECT_EQ(error_of(deep(63)), "log: expected object");  // within the limit: read as usual
}

TEST(config, reads_quotas_routes_and_the_breaker) {
  app_config cfg;
  apply_config_json(R"({
    "sessions": {"attempt_deadline_ms": 5000},
    "breaker": {"failure_threshold": 2, "rate_window": 0, "failure_rate": 0.25,
                "cooldown_ms": 700, "half_open_probes": 3},
    "quota_pools": {"shared-key": {"rpm": 80, "max_concurrent": 10}},
    "providers": [
      {"name": "a", "models": ["m"], "quota": {"rpm": 5, "max_concurrent": 1,
                                                "queue_timeout_ms": 100, "max_queue": 7}},
      {"name": "b", "models": ["m"], "pool": "shared-key"},
      {"name": "c", "models": ["m"], "pool": "shared-key"},
      {"name": "d", "models": ["m"]}
    ],
    "routes": {"m": {"strategy": "weighted", "providers": [{"name": "a", "weight": 3}, "b"]},
               "n": ["c", "d"]}
  })",
                    cfg);
  auto& g = cfg.gateway;
  EXPECT_EQ(g.sessions.attempt_deadline.count(), 5000);
  EXPECT_EQ(g.breaker.failure_threshold, 2u);
  EXPECT_EQ(g.breaker.rate_window, 0u);
  EXPECT_DOUBLE_EQ(g.breaker.failure_rate, 0.25);
  EXPECT_EQ(g.breaker.cooldown.count(), 700);
  EXPECT_EQ(g.breaker.half_open_probes, 3u);
  ASSERT_EQ(g.pools.size(), 2u);
  EXPECT_EQ(g.pools.at("a").rpm, 5u);
  EXPECT_EQ(g.pools.at("a").max_concurrent, 1u);
  EXPECT_EQ(g.pools.at("a").queue_timeout.count(), 100);
  EXPECT_EQ(g.pools.at("a").max_queue, 7u);
  EXPECT_EQ(g.pools.at("shared-key").rpm, 80u);
  EXPECT_EQ(g.providers[0].pool, "a");
  EXPECT_EQ(g.providers[1].pool, "shared-key");
  EXPECT_EQ(g.providers[2].pool, "shared-key");
  EXPECT_EQ(g.providers[3].pool, "");
  auto& m = g.routes.at("m");
  EXPECT_EQ(m.strategy, route_strategy::weighted);
  ASSERT_EQ(m.targets.size(), 2u);
  EXPECT_EQ(m.targets[0].provider, "a");
  EXPECT_EQ(m.targets[0].weight, 3u);
  EXPECT_EQ(m.targets[1].weight, 1u);
  EXPECT_EQ(g.routes.at("n").strategy, route_strategy::priority);
}

TEST(config, quota_route_and_breaker_mistakes_name_the_key_path) {
  auto with_provider = [](const std::string& extra) {
    return R"({"providers": [{"name": "a", "models": ["m"]}], )" + extra + "}";
  };
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "models": ["m"], "quota": {"rpm": -1}}]})"),
            "providers[0].quota.rpm: must be between 0 and 1000000");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "models": ["m"], "quota": {"rps": 1}}]})"),
            "providers[0].quota.rps: unknown key");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "models": ["m"], "pool": "nope"}]})"),
            "providers[0].pool: unknown quota pool 'nope'");
  EXPECT_EQ(error_of(R"({"quota_pools": {"k": {}}, "providers": [{"name": "a", "models": ["m"],
                         "pool": "k", "quota": {}}]})"),
            "providers[0].quota: give either pool or quota, not both");
  EXPECT_EQ(error_of(R"({"quota_pools": {"k": {"max_concurrent": "ten"}}})"),
            "quota_pools.k.max_concurrent: expected integer");
  EXPECT_EQ(error_of(with_provider(R"("routes": {"m": ["a", "zz"]})")),
            "routes.m[1]: unknown provider 'zz'");
  EXPECT_EQ(
      error_of(with_provider(R"("routes": {"m": {"strategy": "random", "providers": ["a"]}})")),
      "routes.m.strategy: unknown strategy 'random' (priority, weighted, least_loaded)");
  EXPECT_EQ(error_of(with_provider(R"("routes": {"m": {"strategy": "weighted"}})")),
            "routes.m.providers: required");
  EXPECT_EQ(
      error_of(with_provider(R"("routes": {"m": {"providers": [{"name": "a", "weight": 0}]}})")),
      "routes.m.providers[0].weight: must be between 1 and 1000000");
  EXPECT_EQ(error_of(with_provider(R"("routes": {"m": {"providers": ["a"], "sticky": true}})")),
            "routes.m.sticky: unknown key");
  EXPECT_EQ(error_of(with_provider(R"("routes": {"m": []})")),
            "routes.m: at least one provider is required");
  EXPECT_EQ(error_of(with_provider(R"("routes": {"m": [7]})")),
            "routes.m[0]: expected provider name or {name, weight}");
  EXPECT_EQ(error_of(R"({"breaker": {"failure_rate": 1.5}})"),
            "breaker.failure_rate: must be above 0 and at most 1");
  EXPECT_EQ(error_of(R"({"breaker": {"failure_rate": "half"}})"),
            "breaker.failure_rate: expected number");
  EXPECT_EQ(error_of(R"({"breaker": {"cooldown": 5}})"), "breaker.cooldown: unknown key");
  EXPECT_EQ(error_of(R"({"sessions": {"attempt_deadline_ms": "soon"}})"),
            "sessions.attempt_deadline_ms: expected integer");
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

// /admin/* (provider view, crash, connections/drop) is off unless asked for, in the file or
// with --admin.
TEST(config, admin_is_off_unless_the_file_or_the_flag_enables_it) {
  EXPECT_FALSE(app_config{}.http.admin);
  EXPECT_FALSE(parse_command_line({"--listen", "127.0.0.1:0"}).config.http.admin);
  EXPECT_TRUE(parse_command_line({"--admin"}).config.http.admin);
  app_config cfg;
  apply_config_json(R"({"http": {"admin": true}})", cfg);
  EXPECT_TRUE(cfg.http.admin);
  apply_config_json(R"({"http": {"admin": false}})", cfg);
  EXPECT_FALSE(cfg.http.admin);
  EXPECT_EQ(error_of(R"({"http": {"admin": "yes"}})"), "http.admin: expected boolean");
}

// The providers section: presets, overrides, keys from the environment, and clear errors
// that never show a key.
class config_providers : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("SG_TEST_NVIDIA_KEY", "nvapi-test-secret-1", 1);
    ::setenv("SG_TEST_ZHIPU_KEY", "zhipu-id.zhipu-secret-2", 1);
    ::setenv("SG_TEST_EMPTY_KEY", "", 1);
    ::unsetenv("SG_TEST_UNSET_KEY");
  }
};

TEST_F(config_providers, a_real_multi_provider_file) {
  app_config cfg;
  apply_config_json(R"({
    "providers": [
      {"name": "nvidia", "kind": "nvidia", "api_key_env": "SG_TEST_NVIDIA_KEY",
       "models": ["meta/llama-3.1-8b-instruct"], "rename": {"llama": "meta/llama-3.1-70b-instruct"},
       "timeouts": {"connect_ms": 3000, "first_byte_ms": 20000, "idle_ms": 30000, "total_ms": 300000}},
      {"name": "glm", "kind": "zhipu", "api_key_env": "SG_TEST_ZHIPU_KEY", "models": ["glm-4-flash"]},
      {"name": "glm-old", "kind": "zhipu_legacy", "api_key_env": "SG_TEST_ZHIPU_KEY",
       "models": ["chatglm_turbo"]},
      {"name": "hunyuan", "kind": "hunyuan", "api_key_env": "SG_TEST_NVIDIA_KEY",
       "models": ["hunyuan-lite"], "headers": {"X-Tenant": "t1"},
       "max_body_bytes": 2097152, "max_line_bytes": 65536},
      {"name": "local", "kind": "custom", "base_url": "http://127.0.0.1:9000/v1", "models": ["local"]}
    ]})",
                    cfg);
  auto& p = cfg.gateway.providers;
  ASSERT_EQ(p.size(), 5u);

  EXPECT_EQ(p[0].http.base_url, "https://integrate.api.nvidia.com/v1");
  EXPECT_EQ(p[0].http.api_key.reveal(), "nvapi-test-secret-1");
  EXPECT_EQ(p[0].http.timeouts.first_byte.count(), 20000);
  EXPECT_EQ(p[0].http.timeouts.total.count(), 300000);
  // A renamed model is served under its client-facing name.
  EXPECT_EQ(p[0].models, (std::vector<std::string>{"meta/llama-3.1-8b-instruct", "llama"}));
  EXPECT_EQ(p[0].http.models.at("llama"), "meta/llama-3.1-70b-instruct");

  EXPECT_EQ(p[1].http.base_url, "https://open.bigmodel.cn/api/paas/v4");
  EXPECT_EQ(p[1].http.adapter, adapter_kind::openai);
  EXPECT_EQ(p[2].http.adapter, adapter_kind::zhipu_legacy);
  EXPECT_EQ(p[3].http.base_url, "https://api.hunyuan.cloud.tencent.com/v1");
  ASSERT_EQ(p[3].http.headers.size(), 1u);
  EXPECT_EQ(p[3].http.headers[0].second, "t1");
  EXPECT_EQ(p[3].http.max_line_bytes, 65536u);
  EXPECT_EQ(p[4].http.base_url, "http://127.0.0.1:9000/v1");
  EXPECT_TRUE(p[4].http.api_key.empty());
}

TEST_F(config_providers, errors_name_the_key_and_never_the_secret) {
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "grok", "models": ["m"]}]})"),
            "providers[0].kind: unknown provider kind 'grok' (mock, openai, nvidia, zhipu, "
            "hunyuan, zhipu_legacy, custom)");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "custom", "models": ["m"]}]})"),
            "providers[0].base_url: required for kind custom");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "custom", "base_url": "ftp://x",
                                         "models": ["m"]}]})"),
            "providers[0].base_url: must start with http:// or https://");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "nvidia", "models": ["m"],
                                         "api_key_env": "SG_TEST_UNSET_KEY"}]})"),
            "providers[0].api_key_env: environment variable 'SG_TEST_UNSET_KEY' is not set");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "nvidia", "models": ["m"],
                                         "api_key_env": "SG_TEST_EMPTY_KEY"}]})"),
            "providers[0].api_key_env: environment variable 'SG_TEST_EMPTY_KEY' is not set");
  auto legacy = error_of(R"({"providers": [{"name": "a", "kind": "zhipu_legacy", "models": ["m"],
                                             "api_key_env": "SG_TEST_NVIDIA_KEY"}]})");
  EXPECT_EQ(legacy,
            "providers[0].api_key_env: the zhipu_legacy adapter needs a key of the form "
            "<id>.<secret>");
  EXPECT_EQ(legacy.find("nvapi-test-secret-1"), std::string::npos);
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "nvidia", "models": ["m"],
                                         "timeouts": {"idle_ms": 0}}]})"),
            "providers[0].timeouts.idle_ms: must be at least 1");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "nvidia", "models": ["m"],
                                         "timeouts": {"idle": 5}}]})"),
            "providers[0].timeouts.idle: unknown key");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "nvidia", "models": ["m"],
                                         "headers": {"X-A": "b\r\nX-Evil: 1"}}]})"),
            "providers[0].headers.X-A: not a valid header");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "nvidia", "models": ["m"],
                                         "adapter": "soap"}]})"),
            "providers[0].adapter: must be openai or zhipu_legacy");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "nvidia", "models": ["m"],
                                         "ca_file": "/nonexistent/ca.pem"}]})"),
            "providers[0].ca_file: cannot read '/nonexistent/ca.pem'");
  // Mock settings on an HTTP provider (and HTTP settings on a mock) are unknown keys.
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "nvidia", "models": ["m"],
                                         "mock": {}}]})"),
            "providers[0].mock: unknown key");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "mock", "models": ["m"],
                                         "base_url": "http://x"}]})"),
            "providers[0].base_url: unknown key");
  EXPECT_EQ(error_of(R"({"providers": [{"name": "a", "kind": "nvidia"}]})"),
            "providers[0].models: at least one model is required");
}

// Configuration mistakes that config_test does not reach: each names the key and the value.
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

namespace streamgate {
namespace {

std::string cli_error(const std::vector<std::string>& args) {
  try {
    parse_command_line(args);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

std::string write_file(const std::string& text) {
  char path[] = "/tmp/sg_config_test_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  return path;
}

TEST(config, reads_gateway_keys_from_a_digest_the_environment_or_a_file) {
  setenv("SG_CONFIG_TEST_KEY", "sk-from-the-environment-1234", 1);
  auto file = write_file("sk-from-a-file-0123456789\n");
  app_config cfg;
  apply_config_json(R"({"auth": {"keys": [
      {"name": "a", "sha256": ")" +
                        to_hex(sha256("sk-from-a-digest-0123")) + R"(",
       "rpm": 60, "max_streams": 4, "tpm": 1000, "max_connections": 8,
       "ws_streams_per_socket": 2, "models": ["mock"], "admin": true},
      {"name": "b", "key_env": "SG_CONFIG_TEST_KEY"},
      {"name": "c", "key_file": ")" +
                        file + R"("}],
    "ws_origins": ["https://app.example"], "cors_origins": ["*"],
    "per_client": {"max_connections": 10, "session_rpm": 20, "exempt_loopback": false}}})",
                    cfg);
  auto& a = cfg.http.access;
  ASSERT_EQ(a.keys.size(), 3u);
  EXPECT_TRUE(digests_equal(a.keys[0].digest, sha256("sk-from-a-digest-0123")));
  EXPECT_TRUE(digests_equal(a.keys[1].digest, sha256("sk-from-the-environment-1234")));
  EXPECT_TRUE(digests_equal(a.keys[2].digest, sha256("sk-from-a-file-0123456789")));
  EXPECT_EQ(a.keys[0].limits.rpm, 60u);
  EXPECT_EQ(a.keys[0].limits.max_streams, 4u);
  EXPECT_EQ(a.keys[0].limits.tpm, 1000u);
  EXPECT_EQ(a.keys[0].limits.max_connections, 8u);
  EXPECT_EQ(a.keys[0].limits.streams_per_socket, 2u);
  EXPECT_EQ(a.keys[0].limits.models, std::vector<std::string>{"mock"});
  EXPECT_TRUE(a.keys[0].admin);
  EXPECT_FALSE(a.keys[1].admin);
  EXPECT_EQ(a.ws_origins, std::vector<std::string>{"https://app.example"});
  EXPECT_EQ(a.cors_origins, std::vector<std::string>{"*"});
  EXPECT_EQ(a.per_client.max_connections, 10u);
  EXPECT_EQ(a.per_client.session_rpm, 20u);
  EXPECT_FALSE(a.per_client.exempt_loopback);
  std::remove(file.c_str());
}

TEST(config, refuses_bad_keys_without_showing_them) {
  setenv("SG_CONFIG_TEST_SHORT", "sk-short", 1);
  auto e = error_of(R"({"auth": {"keys": [{"name": "a", "key_env": "SG_CONFIG_TEST_SHORT"}]}})");
  // No `<< e` here: were the key in it, the test's own output would show it.
  EXPECT_NE(e.find("auth.keys[0]: the key is shorter than 16 characters"), std::string::npos);
  EXPECT_EQ(e.find("sk-short"), std::string::npos);
  EXPECT_NE(error_of(R"({"auth": {"keys": [{"name": "a"}]}})")
                .find("give exactly one of sha256, key_env, key_file"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"auth": {"keys": [{"name": "a", "sha256": "abc", "key_env": "X"}]}})")
                .find("exactly one"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"auth": {"keys": [{"name": "a", "sha256": "xyz"}]}})")
                .find("auth.keys[0].sha256: expected 64 hexadecimal digits"),
            std::string::npos);
  auto d = to_hex(sha256("sk-same-key-0123456789"));
  auto dup = error_of(R"({"auth": {"keys": [{"name": "a", "sha256": ")" + d +
                      R"("}, {"name": "b", "sha256": ")" + d + R"("}]}})");
  EXPECT_NE(dup.find("the same key as 'a'"), std::string::npos) << dup;
  EXPECT_NE(error_of(R"({"auth": {"keys": [{"name": "a", "sha256": ")" + d +
                     R"("}, {"name": "a", "sha256": ")" + to_hex(sha256("other-key-0123456789")) +
                     R"("}]}})")
                .find("duplicate key name 'a'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"auth": {"keys": [{"name": "a{b", "sha256": ")" + d + R"("}]}})")
                .find("auth.keys[0].name"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"auth": {"keys": [{"name": "a", "key_file": "/nonexistent/k"}]}})")
                .find("cannot read"),
            std::string::npos);
  auto big = write_file(std::string(5000, 'k'));
  EXPECT_NE(error_of(R"({"auth": {"keys": [{"name": "a", "key_file": ")" + big + R"("}]}})")
                .find("larger than 4096 bytes"),
            std::string::npos);
  std::remove(big.c_str());
  EXPECT_NE(error_of(R"({"auth": {"keys": [{"name": "a", "key_file": "/dev/stdin"}]}})")
                .find("(a regular file)"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"auth": {"key": []}})").find("auth.key"), std::string::npos);
}

TEST(config, a_public_address_without_keys_does_not_start_unless_said_so) {
  auto e = cli_error({"--listen", "0.0.0.0:8080"});
  EXPECT_NE(e.find("0.0.0.0 is not a loopback address, and no gateway key is configured"),
            std::string::npos)
      << e;
  auto open = write_file(R"({"auth": {"disabled": true}})");
  EXPECT_EQ(cli_error({"--listen", "0.0.0.0:8080", "--config", open}), "no error");
  auto keyed = write_file(R"({"auth": {"keys": [{"name": "a", "sha256": ")" +
                          to_hex(sha256("sk-some-key-0123456789")) + R"("}]}})");
  EXPECT_EQ(cli_error({"--listen", "0.0.0.0:8080", "--config", keyed}), "no error");
  EXPECT_EQ(cli_error({"--listen", "127.0.0.1:8080"}), "no error");
  std::remove(open.c_str());
  std::remove(keyed.c_str());
}

TEST(config, the_admin_listener_is_on_loopback_next_to_the_public_port_by_default) {
  auto cli = parse_command_line({"--listen", "127.0.0.1:9000"});
  http_options admin;
  ASSERT_TRUE(admin_options(cli.config, admin));
  EXPECT_EQ(admin.host, "127.0.0.1");
  EXPECT_EQ(admin.port, 9001);
  EXPECT_EQ(admin.serves, http_options::role::admin);
  EXPECT_TRUE(admin.access.disabled);
  auto ephemeral = parse_command_line({"--listen", "127.0.0.1:0"});
  ASSERT_TRUE(admin_options(ephemeral.config, admin));
  EXPECT_EQ(admin.port, 0);
  auto chosen = parse_command_line({"--admin-listen", "10.0.0.5:9100"});
  ASSERT_TRUE(admin_options(chosen.config, admin));
  EXPECT_EQ(admin.host, "10.0.0.5");
  EXPECT_EQ(admin.port, 9100);
  EXPECT_FALSE(admin_options(parse_command_line({"--admin-listen", "off"}).config, admin));
  EXPECT_NE(cli_error({"--admin-listen", "nonsense"}).find("admin_listen"), std::string::npos);
  EXPECT_EQ(parse_command_line({}).config.http.serves, http_options::role::api);
}

TEST(config, reads_the_header_timeout) {
  app_config cfg;
  apply_config_json(R"({"http": {"header_timeout_ms": 2500}})", cfg);
  EXPECT_EQ(cfg.http.header_timeout, std::chrono::milliseconds(2500));
  EXPECT_NE(error_of(R"({"http": {"header_timeout_ms": 0}})").find("header_timeout_ms"),
            std::string::npos);
}

}  // namespace
}  // namespace streamgate
