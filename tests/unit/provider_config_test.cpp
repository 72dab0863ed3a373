// Provider presets and the upstream request built from a client's request.

#include "providers/http/provider_config.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

namespace streamgate {
namespace {

using json = nlohmann::json;

chat_request request_for(const std::string& model) {
  auto parsed = parse_chat_request(json{{"model", model},
                                        {"stream", false},
                                        {"temperature", 0.5},
                                        {"mock", {{"tokens", 3}}},
                                        {"messages", {{{"role", "user"}, {"content", "hi"}}}}}
                                       .dump());
  return std::get<chat_request>(parsed);
}

bool has_header(const upstream_request& r, const std::string& h) {
  for (auto& x : r.headers)
    if (x == h) return true;
  return false;
}

TEST(provider_presets, known_names_and_urls) {
  ASSERT_NE(find_preset("nvidia"), nullptr);
  EXPECT_EQ(find_preset("nvidia")->base_url, "https://integrate.api.nvidia.com/v1");
  EXPECT_EQ(find_preset("zhipu")->base_url, "https://open.bigmodel.cn/api/paas/v4");
  EXPECT_EQ(find_preset("hunyuan")->base_url, "https://api.hunyuan.cloud.tencent.com/v1");
  EXPECT_EQ(find_preset("zhipu_legacy")->adapter, adapter_kind::zhipu_legacy);
  EXPECT_EQ(find_preset("openai")->adapter, adapter_kind::openai);
  EXPECT_EQ(find_preset("nope"), nullptr);
}

TEST(build_request, openai_style_forces_streaming_and_renames_the_model) {
  http_provider_config cfg;
  cfg.base_url = "https://example.test/v1/";
  cfg.api_key = secret{"sk-abc"};
  cfg.models["fast"] = "vendor/fast-model-v2";
  cfg.headers.emplace_back("X-Org", "42");
  auto r = build_request(cfg, request_for("fast"), 0);
  EXPECT_EQ(r.url, "https://example.test/v1/chat/completions");
  auto body = json::parse(r.body);
  EXPECT_EQ(body["model"], "vendor/fast-model-v2");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["temperature"], 0.5);
  EXPECT_FALSE(body.contains("mock"));  // our extension never leaves the gateway
  EXPECT_TRUE(has_header(r, "Authorization: Bearer sk-abc"));
  EXPECT_TRUE(has_header(r, "X-Org: 42"));
  EXPECT_TRUE(has_header(r, "Accept: text/event-stream"));
}

TEST(build_request, unrenamed_models_pass_as_they_are_and_no_key_no_header) {
  http_provider_config cfg;
  cfg.base_url = "http://127.0.0.1:1/v1";
  auto r = build_request(cfg, request_for("plain"), 0);
  EXPECT_EQ(json::parse(r.body)["model"], "plain");
  for (auto& h : r.headers) EXPECT_EQ(h.rfind("Authorization", 0), std::string::npos);
}

TEST(build_request, zhipu_legacy_uses_its_own_path_body_and_token) {
  http_provider_config cfg;
  cfg.base_url = "https://open.bigmodel.cn/api/paas/v3/model-api";
  cfg.adapter = adapter_kind::zhipu_legacy;
  cfg.api_key = secret{"myid.mysecret"};
  auto r = build_request(cfg, request_for("chatglm_turbo"), 1700000000000);
  EXPECT_EQ(r.url, "https://open.bigmodel.cn/api/paas/v3/model-api/chatglm_turbo/sse-invoke");
  auto body = json::parse(r.body);
  EXPECT_EQ(body["incremental"], true);
  EXPECT_EQ(body["prompt"][0]["content"], "hi");
  EXPECT_EQ(body["temperature"], 0.5);
  EXPECT_TRUE(has_header(r, "Authorization: " + zhipu_token("myid.mysecret", 1700000000000)));
}

TEST(zhipu_token, matches_an_independent_hs256_jwt) {
  // Computed with Python's hmac/hashlib for header {"alg":"HS256","sign_type":"SIGN"} and
  // payload {"api_key":"myid","exp":1700003600000,"timestamp":1700000000000}.
  EXPECT_EQ(
      zhipu_token("myid.mysecret", 1700000000000),
      "eyJhbGciOiJIUzI1NiIsInNpZ25fdHlwZSI6IlNJR04ifQ."
      "eyJhcGlfa2V5IjoibXlpZCIsImV4cCI6MTcwMDAwMzYwMDAwMCwidGltZXN0YW1wIjoxNzAwMDAwMDAwMDAwfQ."
      "b7R2iIBrPtJHMXeBh9EpnRKIU6l2co68HbP0o6F3R28");
  EXPECT_EQ(zhipu_token("no-dot-key", 0), "");
}

TEST(secret, scrubs_every_occurrence_and_any_long_start_of_itself) {
  secret key{"sk-canary-5b1e0c7d9a2f"};
  EXPECT_EQ(key.scrub("a sk-canary-5b1e0c7d9a2f b sk-canary-5b1e0c7d9a2f"), "a *** b ***");
  // A provider that cut the key itself, at the end or before its own ellipsis.
  EXPECT_EQ(key.scrub("key sk-canary-5b1"), "key ***");
  EXPECT_EQ(key.scrub("key sk-canary-5b1... is wrong"), "key ***... is wrong");
  // Under eight characters, a key's start is what every key of its kind starts with.
  EXPECT_EQ(key.scrub("keys look like sk-cana"), "keys look like sk-cana");
  EXPECT_EQ(secret{"abc"}.scrub("abc"), "abc");  // too short to scrub without noise
  EXPECT_EQ(secret{}.scrub("text"), "text");
}

TEST(secret, prints_as_stars) {
  std::ostringstream os;
  os << secret{"sk-live-very-secret"};
  EXPECT_EQ(os.str(), "***");
}

}  // namespace
}  // namespace streamgate
