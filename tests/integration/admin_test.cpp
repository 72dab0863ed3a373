// /admin: the provider view, and crashing a provider actor on purpose (chaos testing).

#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

json providers(std::uint16_t port) {
  http_client c{port};
  auto r = c.request("GET", "/admin/providers");
  EXPECT_EQ(r.status, 200u);
  return json::parse(r.body)["providers"];
}

TEST(admin, is_off_by_default) {
  test_server server;
  http_client c{server.port()};
  EXPECT_EQ(c.request("GET", "/admin/providers").status, 404u);
  EXPECT_EQ(c.request("POST", "/admin/providers/mock/crash").status, 404u);
}

TEST(admin, shows_each_provider) {
  test_server server{gateway_config::with_mock_provider(), test_server::admin_options()};
  auto p = providers(server.port());
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["name"], "mock");
  EXPECT_EQ(p[0]["state"], "up");
  EXPECT_EQ(p[0]["restarts"], 0);
}

TEST(admin, a_crashed_provider_is_restarted_and_the_next_request_succeeds) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.restarts.backoff_initial = std::chrono::milliseconds(20);
  test_server server{cfg, test_server::admin_options()};

  // A stream in flight when its provider crashes ends with upstream_interrupted.
  http_client streaming{server.port()};
  streaming.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000, 5));
  ASSERT_TRUE(streaming.next_event().has_value());

  http_client c{server.port()};
  auto crash = c.request("POST", "/admin/providers/mock/crash");
  EXPECT_EQ(crash.status, 202u) << crash.body;

  std::string last;
  while (auto ev = streaming.next_event()) last = ev->data;
  EXPECT_EQ(json::parse(last)["error"]["code"], "upstream_interrupted");

  ASSERT_TRUE(eventually([&] {
    auto p = providers(server.port());
    return p[0]["restarts"] == 1 && p[0]["state"] == "up";
  }));
  auto reply = c.request("POST", "/v1/chat/completions", mock_body(false, 3));
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(json::parse(reply.body)["choices"][0]["message"]["content"], mock_text(3));
  EXPECT_EQ(c.request("POST", "/admin/providers/nope/crash").status, 404u);
}

TEST(admin, a_provider_that_keeps_crashing_is_marked_down_and_routed_around) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.restarts.max_restarts = 1;
  cfg.restarts.backoff_initial = std::chrono::milliseconds(10);
  test_server server{cfg, test_server::admin_options()};
  http_client c{server.port()};
  ASSERT_EQ(c.request("POST", "/admin/providers/mock/crash").status, 202u);
  ASSERT_TRUE(eventually([&] { return providers(server.port())[0]["state"] == "up"; }));
  ASSERT_EQ(c.request("POST", "/admin/providers/mock/crash").status, 202u);
  ASSERT_TRUE(eventually([&] { return providers(server.port())[0]["state"] == "down"; }));
  auto reply = c.request("POST", "/v1/chat/completions", mock_body(false, 3));
  EXPECT_EQ(reply.status, 503u);
  EXPECT_EQ(json::parse(reply.body)["error"]["code"], "no_provider_available");
}

}  // namespace
}  // namespace streamgate::test
