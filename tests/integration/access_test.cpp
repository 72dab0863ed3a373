// Access control on the wire: gateway keys on every transport, sessions private to their key,
// per-key and per-address limits, the header deadline, media types, CORS, and the operator's
// listener; and that no key shows in a response, a log line or a metric.

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/ws_client.hpp"

#include "telemetry/log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/socket.h>
#include <unistd.h>
#include <mutex>

namespace streamgate::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string key_a = "sk-team-a-4f1d2c9e8b7a6d5c";
const std::string key_b = "sk-team-b-0a1b2c3d4e5f6a7b";

gateway_key key(const std::string& name, const std::string& k, key_limits l = {}) {
  gateway_key g;
  g.name = name;
  g.digest = sha256(k);
  g.limits = std::move(l);
  return g;
}

http_options keyed(key_limits a_limits = {}) {
  auto o = test_server::default_options();
  o.access.keys = {key("team-a", key_a, std::move(a_limits)), key("team-b", key_b)};
  return o;
}

std::map<std::string, std::string> bearer(const std::string& k) {
  return {{"Authorization", "Bearer " + k}};
}

TEST(access, sse_needs_a_key_and_streams_with_one) {
  test_server server{gateway_config::with_mock_provider(), keyed()};
  http_client c{server.port()};
  auto none = c.request("POST", "/v1/chat/completions", mock_body(true, 3));
  EXPECT_EQ(none.status, 401u);
  EXPECT_EQ(json::parse(none.body)["error"]["code"], "invalid_api_key");
  EXPECT_EQ(
      c.request("POST", "/v1/chat/completions", mock_body(true, 3), bearer("sk-guess")).status,
      401u);
  auto ok = c.open_stream("POST", "/v1/chat/completions", mock_body(true, 3), bearer(key_a));
  ASSERT_EQ(ok.status, 200u);
  std::string last;
  while (auto ev = c.next_event()) last = ev->data;
  EXPECT_EQ(last, "[DONE]");
}

TEST(access, a_session_is_private_to_the_key_that_started_it) {
  test_server server{gateway_config::with_mock_provider(), keyed()};
  http_client c{server.port()};
  auto created = c.request("POST", "/v1/sessions", mock_body(false, 200, 20), bearer(key_a));
  ASSERT_EQ(created.status, 201u) << created.body;
  std::string id = json::parse(created.body)["session"];
  // Another key hears what it would for an id that never existed.
  auto other = c.request("GET", "/v1/sessions/" + id + "/events?after=0", {}, bearer(key_b));
  auto unknown = c.request("GET", "/v1/sessions/nonexistent/events?after=0", {}, bearer(key_b));
  EXPECT_EQ(other.status, 404u);
  EXPECT_EQ(other.body, unknown.body);
  EXPECT_EQ(c.request("POST", "/v1/sessions/" + id + "/cancel", {}, bearer(key_b)).status, 404u);
  {
    ws_client ws{server.port(), 10s, 0, bearer(key_b)};
    ws.send({{"type", "resume"}, {"id", "r"}, {"session", id}, {"after", 0}});
    auto m = ws.next();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "error");
    EXPECT_EQ((*m)["code"], "session_not_found");
  }
  // Its owner reads and cancels it.
  EXPECT_EQ(c.request("GET", "/v1/sessions/" + id + "/events?after=0", {}, bearer(key_a)).status,
            200u);
  EXPECT_EQ(c.request("POST", "/v1/sessions/" + id + "/cancel", {}, bearer(key_a)).status, 200u);
}

TEST(access, websocket_keys_come_by_header_or_subprotocol_and_a_bad_one_closes_4401) {
  test_server server{gateway_config::with_mock_provider(), keyed()};
  for (auto headers :
       {bearer(key_a), std::map<std::string, std::string>{
                           {"Sec-WebSocket-Protocol", "streamgate, bearer." + key_a}}}) {
    ws_client ws{server.port(), 10s, 0, headers};
    ws.send({{"type", "start"}, {"id", "1"}, {"request", mock_request(3)}});
    std::string type;
    while (auto m = ws.next()) {
      type = (*m)["type"];
      if (type == "done" || type == "error") break;
    }
    EXPECT_EQ(type, "done");
  }
  auto sessions = server.engine().counts().live_sessions;  // the two above, kept for resume
  ws_client bad{server.port(), 10s, 0, bearer("sk-guess")};
  bad.send({{"type", "start"}, {"id", "1"}, {"request", mock_request(3)}});
  EXPECT_FALSE(bad.next());
  EXPECT_EQ(bad.close_code(), 4401u);
  EXPECT_EQ(server.engine().counts().live_sessions, sessions);
}

TEST(access, a_key_over_its_rate_gets_429_with_retry_after) {
  key_limits l;
  l.rpm = 1;
  test_server server{gateway_config::with_mock_provider(), keyed(l)};
  http_client c{server.port()};
  EXPECT_EQ(c.request("POST", "/v1/chat/completions", mock_body(false, 2), bearer(key_a)).status,
            200u);
  auto refused = c.request("POST", "/v1/chat/completions", mock_body(false, 2), bearer(key_a));
  EXPECT_EQ(refused.status, 429u);
  EXPECT_EQ(json::parse(refused.body)["error"]["code"], "rate_limited");
  EXPECT_GE(std::stoi(refused.header("retry-after")), 1);
  // The other key's budget is its own.
  EXPECT_EQ(c.request("POST", "/v1/chat/completions", mock_body(false, 2), bearer(key_b)).status,
            200u);
}

TEST(access, a_keys_streams_per_socket_and_connections_are_bounded) {
  key_limits l;
  l.streams_per_socket = 1;
  l.max_connections = 2;
  test_server server{gateway_config::with_mock_provider(), keyed(l)};
  {
    ws_client ws{server.port(), 10s, 0, bearer(key_a)};
    ws.send({{"type", "start"}, {"id", "1"}, {"request", mock_request(200, 20)}});
    ws.send({{"type", "start"}, {"id", "2"}, {"request", mock_request(2)}});
    std::optional<json> refusal;
    while (auto m = ws.next()) {
      if ((*m)["type"] == "error" && (*m)["id"] == "2") {
        refusal = *m;
        break;
      }
    }
    ASSERT_TRUE(refusal);
    EXPECT_EQ((*refusal)["code"], "too_many_streams");
    // Two connections carry the key (this socket and the next); a third gets 429 or 4429.
    http_client second{server.port()};
    EXPECT_EQ(second.request("GET", "/v1/models", {}, bearer(key_a)).status, 200u);
    http_client third{server.port()};
    auto refused = third.request("GET", "/v1/models", {}, bearer(key_a));
    EXPECT_EQ(refused.status, 429u);
    EXPECT_EQ(json::parse(refused.body)["error"]["code"], "connection_limit");
    ws_client fourth{server.port(), 10s, 0, bearer(key_a)};
    EXPECT_FALSE(fourth.next());
    EXPECT_EQ(fourth.close_code(), 4429u);
    // Another key is not bounded by it.
    http_client other{server.port()};
    EXPECT_EQ(other.request("GET", "/v1/models", {}, bearer(key_b)).status, 200u);
  }
  // Its connections closed, the key's count comes back down.
  EXPECT_TRUE(eventually([&] {
    http_client again{server.port()};
    return again.request("GET", "/v1/models", {}, bearer(key_a)).status == 200u;
  }));
}

TEST(access, no_key_shows_in_responses_logs_or_metrics) {
  std::mutex mu;
  std::string logs;
  log::route_to(log::level::debug, [&](std::string_view line) {
    std::lock_guard<std::mutex> lock{mu};
    logs.append(line).append("\n");
  });
  std::string seen;
  {
    key_limits l;
    l.rpm = 1;
    l.models = {"mock"};
    // Names of its own: the metrics registry is the process's, and other tests of this binary
    // count under team-a.
    auto o = test_server::default_options();
    o.access.keys = {key("leak-check-a", key_a, l), key("leak-check-b", key_b)};
    test_server server{gateway_config::with_mock_provider(), o};
    http_client c{server.port()};
    const std::string guess = "sk-attacker-guess-77777777";
    for (auto& k : {key_a, key_a, guess, key_b}) {
      auto r = c.request("POST", "/v1/chat/completions", mock_body(false, 2), bearer(k));
      seen += r.body;
      for (auto& [n, v] : r.headers) seen += n + ": " + v + "\n";
    }
    auto m = c.request("GET", "/metrics").body;
    EXPECT_NE(m.find(R"(streamgate_key_sessions_total{key="leak-check-a",outcome="started"} 1)"),
              std::string::npos);
    EXPECT_NE(
        m.find(R"(streamgate_key_sessions_total{key="leak-check-a",outcome="rate_limited"} 1)"),
        std::string::npos);
    EXPECT_NE(m.find(R"(streamgate_auth_failures_total{reason="invalid_key"})"), std::string::npos);
    seen += m;
    // A failure names which key leaked, never the key: test output is output too.
    const std::pair<const char*, std::string> keys[] = {
        {"leak-check-a", key_a}, {"leak-check-b", key_b}, {"the guess", guess}};
    for (auto& [name, k] : keys) {
      EXPECT_EQ(seen.find(k), std::string::npos) << name;
      EXPECT_EQ(seen.find(k.substr(3, 12)), std::string::npos) << name;
    }
  }
  log::init(log::level::info);
  std::lock_guard<std::mutex> lock{mu};
  EXPECT_NE(logs.find("access_refusal"), std::string::npos);
  EXPECT_EQ(logs.find(key_a.substr(3, 12)), std::string::npos) << "team-a";
  EXPECT_EQ(logs.find(key_b.substr(3, 12)), std::string::npos) << "team-b";
}

TEST(access, a_client_trickling_its_headers_is_dropped_at_the_header_deadline) {
  auto o = test_server::default_options();
  o.header_timeout = 300ms;
  o.idle_timeout = 60s;
  test_server server{gateway_config::with_mock_provider(), o};
  http_client slow{server.port(), 10s};
  auto started = std::chrono::steady_clock::now();
  slow.send_raw("GET /healthz HTTP/1.1\r\nHo");
  // The rest would come a byte at a time; the server must not wait for the idle timeout.
  auto rest = slow.read_to_close();
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, 5s);
  EXPECT_EQ(rest.find("200 OK"), std::string::npos);
  // A kept-alive connection may stay quiet longer than that between requests.
  http_client kept{server.port()};
  EXPECT_EQ(kept.request("GET", "/healthz").status, 200u);
  std::this_thread::sleep_for(600ms);  // the quiet itself is what is tested
  EXPECT_EQ(kept.request("GET", "/healthz").status, 200u);
}

TEST(access, one_address_cannot_take_every_connection_or_every_session) {
  auto o = test_server::default_options();
  o.access.per_client.exempt_loopback = false;
  o.access.per_client.max_connections = 2;
  o.access.per_client.session_rpm = 2;
  test_server server{gateway_config::with_mock_provider(), o};
  http_client c1{server.port()}, c2{server.port()};
  EXPECT_EQ(c1.request("POST", "/v1/sessions", mock_body(false, 2)).status, 201u);
  EXPECT_EQ(c2.request("POST", "/v1/sessions", mock_body(false, 2)).status, 201u);
  auto third = c1.request("POST", "/v1/sessions", mock_body(false, 2));
  EXPECT_EQ(third.status, 429u);
  EXPECT_EQ(json::parse(third.body)["error"]["code"], "client_rate_limited");
  http_client c3{server.port()};
  auto refused = c3.request("GET", "/healthz");
  EXPECT_EQ(refused.status, 429u);
  EXPECT_NE(refused.body.find("client_connection_limit"), std::string::npos);
  c2.close();
  EXPECT_TRUE(eventually([&] {
    http_client again{server.port()};
    return again.request("GET", "/healthz").status == 200u;
  }));
}

TEST(access, json_endpoints_refuse_other_media_types_before_any_work) {
  test_server server;
  http_client c{server.port()};
  auto r = c.request("POST", "/v1/sessions", mock_body(false, 2), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 415u);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "unsupported_media_type");
  EXPECT_EQ(server.engine().counts().live_sessions, 0u);
}

TEST(access, cors_headers_reach_streamed_and_plain_answers_of_allowed_origins) {
  auto o = test_server::default_options();
  o.access.cors_origins = {"https://app.example"};
  test_server server{gateway_config::with_mock_provider(), o};
  http_client c{server.port()};
  auto pre = c.request("OPTIONS", "/v1/chat/completions", {},
                       {{"Origin", "https://app.example"},
                        {"Access-Control-Request-Method", "POST"},
                        {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(pre.status, 204u);
  EXPECT_EQ(pre.header("access-control-allow-origin"), "https://app.example");
  auto sse = c.open_stream("POST", "/v1/chat/completions", mock_body(true, 2),
                           {{"Origin", "https://app.example"}});
  EXPECT_EQ(sse.header("access-control-allow-origin"), "https://app.example");
  while (c.next_event()) {
  }
  auto other = c.request("GET", "/v1/models", {}, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(other.header("access-control-allow-origin"), "");
}

TEST(access_process, metrics_and_admin_are_on_the_admin_listener_only) {
  child_process p{STREAMGATE_BIN, {"--listen", "127.0.0.1:0", "--admin"}};
  auto port = child_process::port_of(p.wait_for_line("streamgate listening on"));
  auto admin = child_process::port_of(p.wait_for_line("streamgate admin on"));
  ASSERT_NE(port, 0) << p.stderr_text();
  ASSERT_NE(admin, 0) << p.stderr_text();
  http_client pub{port}, op{admin};
  EXPECT_EQ(pub.request("GET", "/metrics").status, 404u);
  EXPECT_EQ(pub.request("GET", "/admin/providers").status, 404u);
  EXPECT_EQ(op.request("GET", "/metrics").status, 200u);
  EXPECT_EQ(op.request("GET", "/admin/providers").status, 200u);
  EXPECT_EQ(op.request("POST", "/v1/chat/completions", mock_body(false, 2)).status, 404u);
  EXPECT_EQ(pub.request("POST", "/v1/chat/completions", mock_body(false, 2)).status, 200u);
}

TEST(access_process, a_public_address_without_keys_refuses_to_start) {
  child_process refused{STREAMGATE_BIN, {"--listen", "0.0.0.0:0"}};
  EXPECT_EQ(refused.wait(), 2);
  EXPECT_NE(refused.stderr_text().find("is not a loopback address, and no gateway key"),
            std::string::npos)
      << refused.stderr_text();
  auto open = write_temp_file(R"({"auth": {"disabled": true}, "admin_listen": "127.0.0.1:0"})");
  child_process p{STREAMGATE_BIN, {"--listen", "0.0.0.0:0", "--config", open}};
  EXPECT_NE(child_process::port_of(p.wait_for_line("streamgate listening on")), 0)
      << p.stderr_text();
}

}  // namespace
}  // namespace streamgate::test
