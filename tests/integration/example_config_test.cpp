// The acceptance run: examples/providers.json (2× NVIDIA 80 RPM / 10 streams, Zhipu 1,
// Hunyuan 5) pointed at the fake upstream, 1,000 requests, one provider failing (503) and one
// crashed mid-run: every request ends in success or one explicit error, no lease stays held.

#include "app/config.hpp"
#include "tests/integration/upstream_fixture.hpp"
#include "tools/fake_upstream/behaviour.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

namespace streamgate::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// The example file as shipped, with every provider's base URL moved to the fake upstream and
// each upstream model given a fault suffix.
app_config example_against(std::uint16_t fake_port) {
  std::ifstream in{STREAMGATE_EXAMPLE};
  std::stringstream text;
  text << in.rdbuf();
  auto j = json::parse(text.str());
  for (auto& p : j["providers"]) {
    p["base_url"] = "http://127.0.0.1:" + std::to_string(fake_port) + "/v1";
    auto failing = p["name"] == "nvidia-2";
    for (auto& [client, upstream] : p["rename"].items())
      upstream = failing ? "fake@status=503" : "fake@chunks=6,chunk_size=5";
  }
  for (auto var : {"NVIDIA_API_KEY_1", "NVIDIA_API_KEY_2", "ZHIPU_API_KEY", "HUNYUAN_API_KEY"})
    ::setenv(var, "test-key-not-secret", 1);
  // Gateway keys must differ from each other.
  for (auto var : {"STREAMGATE_KEY_CHAT_APP", "STREAMGATE_KEY_BATCH"})
    ::setenv(var, (std::string{"test-gateway-key-"} + var).c_str(), 1);
  app_config cfg;
  apply_config_json(j.dump(), cfg);
  return cfg;
}

TEST(example_config, a_thousand_requests_with_one_provider_failing_and_one_crashing) {
  fake::fake_server upstream{fake::server_options{}};
  upstream.start();
  auto cfg = example_against(upstream.port());
  EXPECT_EQ(cfg.http.access.keys.size(), 2u);  // the gateway keys it ships with
  cfg.gateway.restarts.backoff_initial = 50ms;
  test_server server{cfg.gateway, test_server::admin_options()};

  // The NVIDIA model gets what fits in one key's 80 requests a minute (the other key fails);
  // the rest is split between Zhipu (1 stream) and Hunyuan (5 streams, crashed mid-run).
  std::vector<std::string> models;
  for (int i = 0; i < 1000; ++i)
    models.push_back(i % 20 == 0 ? "llama-3.1-8b" : (i % 2 ? "glm-4-flash" : "hunyuan-lite"));
  std::atomic<std::size_t> next{0};
  std::atomic<int> ok{0}, explicit_error{0}, other{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 20; ++t) {
    ts.emplace_back([&] {
      http_client c{server.port(), 60s};
      for (auto i = next++; i < models.size(); i = next++) {
        auto r = c.request("POST", "/v1/chat/completions",
                           json{{"model", models[i]},
                                {"stream", false},
                                {"messages", {{{"role", "user"}, {"content", "hi"}}}}}
                               .dump());
        auto body = json::parse(r.body, nullptr, false);
        if (r.status == 200 && body["choices"][0]["message"]["content"] == fake::full_text(6, 5))
          ++ok;
        else if (r.status >= 400 && body.contains("error") &&
                 !body["error"].value("code", "").empty())
          ++explicit_error;
        else
          ++other;
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return next.load() >= 400; }, 60s));
  std::promise<bool> crashed;
  server.engine().crash(crash_target::provider, "hunyuan", [&](bool b) { crashed.set_value(b); });
  EXPECT_TRUE(crashed.get_future().get());
  for (auto& t : ts) t.join();

  EXPECT_EQ(ok + explicit_error, 1000) << ok << " ok, " << explicit_error << " errors";
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(ok.load(), 950);
  ASSERT_TRUE(eventually([&] {
    for (auto& [name, p] : providers_by_name(server.engine()))
      if (p["pool"]["leases_in_use"] != 0 || p["pool"]["queue_length"] != 0) return false;
    return true;
  }));
  auto view = providers_by_name(server.engine());
  EXPECT_EQ(view["hunyuan"]["restarts"], 1);
  EXPECT_NE(view["nvidia-2"]["breaker"]["state"], "closed");
  EXPECT_GE(view["nvidia-2"]["breaker"]["transitions"].get<int>(), 1);
  EXPECT_EQ(view["nvidia-2"]["attempts"]["succeeded"], 0);
  EXPECT_EQ(view["zhipu"]["pool"]["max_concurrent"], 1);
  EXPECT_LE(upstream.counters().peak_active_streams.load(), 10 + 1 + 5 + 10);
}

}  // namespace
}  // namespace streamgate::test
