// /admin: the provider view, and crashing a provider actor on purpose (chaos testing).

#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/ws_client.hpp"

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

// Cutting every streaming connection is a chaos tool: without admin it must be refused, and
// streams (SSE and WebSocket) must go on untouched.
TEST(admin, connections_drop_is_refused_when_admin_is_off) {
  test_server server;
  http_client sse{server.port()};
  ASSERT_EQ(sse.open_stream("POST", "/v1/chat/completions", mock_body(true, 20, 5)).status, 200u);
  std::string sse_text;
  bool sse_done = false;
  auto read_sse = [&] {
    auto ev = sse.next_event();
    if (!ev) return false;
    auto chunk = json::parse(ev->data, nullptr, false);
    sse_done = sse_done || ev->data == "[DONE]";
    if (chunk.contains("choices") && chunk["choices"][0]["delta"].contains("content"))
      sse_text += chunk["choices"][0]["delta"]["content"].get<std::string>();
    return true;
  };
  ASSERT_TRUE(read_sse());  // the stream is live
  ws_client ws{server.port()};
  ws.send({{"type", "start"}, {"id", "w"}, {"request", mock_request(20, 5)}});
  ASSERT_EQ((*ws.next())["type"], "started");

  http_client c{server.port()};
  auto r = c.request("POST", "/admin/connections/drop");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "not_found");
  EXPECT_EQ(r.body.find("dropped"), std::string::npos);

  // Both streams run to their end on their own connections.
  while (read_sse()) {
  }
  EXPECT_TRUE(sse_done);
  EXPECT_EQ(sse_text, mock_text(20));
  std::string ws_text;
  std::string ws_end;
  while (auto m = ws.next()) {
    if ((*m)["type"] == "delta") ws_text += (*m)["content"].get<std::string>();
    if ((*m)["type"] == "done" || (*m)["type"] == "error") {
      ws_end = (*m)["type"];
      break;
    }
  }
  EXPECT_EQ(ws_end, "done");
  EXPECT_EQ(ws_text, mock_text(20));
  EXPECT_EQ(server.server().open_connections(), 3);  // sse, ws and c: nobody was cut
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
