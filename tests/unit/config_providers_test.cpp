// The providers section of the configuration file: presets, overrides, keys from the
// environment, and clear errors (that never show a key).

#include "app/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

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

}  // namespace
}  // namespace streamgate
