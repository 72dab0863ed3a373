// Routing and validation as a pure function of the request: no sockets.

#include "transports/http/api_handler.hpp"

#include "actors/error_code.hpp"

#include <gtest/gtest.h>

namespace streamgate {
namespace {

class fake_service : public session_service {
 public:
  std::vector<model_info> models() const override { return {{"mock", "mock"}}; }
  start_outcome start(chat_request, start_options) override { return {}; }
  bool attach(const std::string&, std::uint64_t, sink_ptr) override { return false; }
  void detach(const std::string&, const sink_ptr&) override {}
  bool cancel(const std::string&) override { return false; }
  engine_counts counts() const override { return counts_; }
  engine_counts counts_ = [] {
    engine_counts c;
    c.routable_providers = 1;
    return c;
  }();
};

class api_dispatch : public ::testing::Test {
 protected:
  api_action run(http::verb verb, const std::string& target, std::string body = {},
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    http_request req{verb, target, 11};
    // What every JSON client sends; tests of the rule itself set their own.
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();
    return dispatch(req, ctx);
  }

  fake_service service;
  http_options options = [] {
    http_options o;
    o.serves = http_options::role::both;  // routing of every endpoint; roles: access_test
    return o;
  }();
  api_context ctx{service, options, [] { return std::string{"# metrics\n"}; }};
};

TEST_F(api_dispatch, chat_completions_by_stream_flag) {
  auto body = R"({"model":"mock","messages":[{"role":"user","content":"x"}],"stream":true})";
  EXPECT_EQ(run(http::verb::post, "/v1/chat/completions", body).what,
            api_action::kind::chat_stream);
  auto plain = R"({"model":"mock","messages":[{"role":"user","content":"x"}]})";
  EXPECT_EQ(run(http::verb::post, "/v1/chat/completions", plain).what,
            api_action::kind::chat_complete);
}

TEST_F(api_dispatch, session_endpoints_and_their_parameters) {
  auto ev = run(http::verb::get, "/v1/sessions/sess_ab/events?after=7&wait_ms=250");
  EXPECT_EQ(ev.what, api_action::kind::session_events);
  EXPECT_EQ(ev.session_id, "sess_ab");
  EXPECT_EQ(ev.after_seq, 7u);
  EXPECT_EQ(ev.wait_ms, 250u);
  EXPECT_FALSE(ev.sse);

  auto sse = run(http::verb::get, "/v1/sessions/sess_ab/events", {},
                 {{"Accept", "text/event-stream"}, {"Last-Event-ID", "12"}});
  EXPECT_TRUE(sse.sse);
  EXPECT_EQ(sse.after_seq, 12u);
  // An EventSource reconnecting to a URL with ?after= sends a newer Last-Event-ID.
  auto again = run(http::verb::get, "/v1/sessions/sess_ab/events?after=3", {},
                   {{"Accept", "text/event-stream"}, {"Last-Event-ID", "12"}});
  EXPECT_EQ(again.after_seq, 12u);
  EXPECT_EQ(run(http::verb::get, "/v1/sessions/sess_ab/events", {}, {{"Last-Event-ID", "x"}})
                .response.result(),
            http::status::bad_request);

  EXPECT_EQ(run(http::verb::post, "/v1/sessions/sess_ab/cancel").what,
            api_action::kind::session_cancel);
  EXPECT_EQ(run(http::verb::get, "/v1/sessions/sess_ab/events?after=x").response.result(),
            http::status::bad_request);
  EXPECT_EQ(run(http::verb::get, "/v1/sessions/sess_ab/events?wait_ms=999999").response.result(),
            http::status::bad_request);
  EXPECT_EQ(run(http::verb::get, "/v1/sessions/sess_ab/other").response.result(),
            http::status::not_found);
}

TEST_F(api_dispatch, wrong_methods_get_405_with_allow) {
  auto a = run(http::verb::put, "/v1/models");
  EXPECT_EQ(a.response.result(), http::status::method_not_allowed);
  EXPECT_EQ(a.response[http::field::allow], "GET");
  EXPECT_EQ(run(http::verb::get, "/v1/sessions/sess_ab/cancel").response.result(),
            http::status::method_not_allowed);
}

TEST_F(api_dispatch, metrics_models_health) {
  auto m = run(http::verb::get, "/metrics");
  EXPECT_EQ(m.response.body(), "# metrics\n");
  EXPECT_NE(run(http::verb::get, "/v1/models").response.body().find("\"mock\""), std::string::npos);
  EXPECT_EQ(run(http::verb::get, "/healthz").response.result(), http::status::ok);
}

TEST_F(api_dispatch, admin_crash_paths_name_their_target_and_anything_else_is_404) {
  options.admin = true;
  auto router = run(http::verb::post, "/admin/router/crash");
  EXPECT_EQ(router.what, api_action::kind::admin_crash);
  EXPECT_EQ(router.crash, crash_target::router);
  auto pool = run(http::verb::post, "/admin/pools/p1/crash");
  EXPECT_EQ(pool.what, api_action::kind::admin_crash);
  EXPECT_EQ(pool.crash, crash_target::pool);
  EXPECT_EQ(pool.session_id, "p1");
  auto provider = run(http::verb::post, "/admin/providers/mock/crash");
  EXPECT_EQ(provider.crash, crash_target::provider);
  EXPECT_EQ(provider.session_id, "mock");
  EXPECT_EQ(run(http::verb::get, "/admin/pools/p1/crash").response.result(),
            http::status::method_not_allowed);
  for (auto bad : {"/admin/pools//crash", "/admin/pools/p1/crash/x", "/admin/pools/p1",
                   "/admin/router/crash/x", "/admin/pools/crash"}) {
    auto a = run(http::verb::post, bad);
    EXPECT_EQ(a.what, api_action::kind::respond) << bad;
    EXPECT_EQ(a.response.result(), http::status::not_found) << bad;
  }
}

TEST_F(api_dispatch, readyz_follows_the_engine_and_its_routable_providers) {
  EXPECT_EQ(run(http::verb::get, "/readyz").response.result(), http::status::ok);
  service.counts_.routable_providers = 0;
  auto none = run(http::verb::get, "/readyz");
  EXPECT_EQ(none.response.result(), http::status::service_unavailable);
  EXPECT_NE(none.response.body().find("no provider"), std::string::npos);
  service.counts_.routable_providers = 1;
  service.counts_.engine_up = false;
  auto down = run(http::verb::get, "/readyz");
  EXPECT_EQ(down.response.result(), http::status::service_unavailable);
  EXPECT_NE(down.response.body().find("\"engine\":\"down\""), std::string::npos);
}

TEST_F(api_dispatch, static_files_never_leave_the_web_root) {
  EXPECT_EQ(run(http::verb::get, "/../../etc/passwd").response.result(), http::status::not_found);
  EXPECT_EQ(run(http::verb::get, "/").response.result(), http::status::not_found);  // no root set
}

TEST_F(api_dispatch, websocket_needs_an_upgrade) {
  EXPECT_EQ(run(http::verb::get, "/v1/ws").response.result(), http::status::bad_request);
}

// The handshake is answered by ws_connection only when it is one RFC 6455 allows.
TEST_F(api_dispatch, websocket_handshake_needs_version_13_and_a_proper_key) {
  std::vector<std::pair<std::string, std::string>> h{
      {"Connection", "Upgrade"},
      {"Upgrade", "websocket"},
      {"Sec-WebSocket-Version", "13"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  EXPECT_EQ(run(http::verb::get, "/v1/ws", {}, h).what, api_action::kind::websocket);

  auto old_version = h;
  old_version[2].second = "8";
  auto a = run(http::verb::get, "/v1/ws", {}, old_version);
  EXPECT_EQ(a.response.result(), http::status::bad_request);
  EXPECT_EQ(a.response[http::field::sec_websocket_version], "13");
  EXPECT_NE(a.response.body().find("version 13"), std::string::npos);

  for (auto key : {"", "short==", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25j!Q=="}) {
    auto bad_key = h;
    bad_key[3].second = key;
    auto r = run(http::verb::get, "/v1/ws", {}, bad_key);
    EXPECT_EQ(r.response.result(), http::status::bad_request) << key;
    EXPECT_NE(r.response.body().find("Sec-WebSocket-Key"), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace streamgate

namespace streamgate {
namespace {

// The access rules dispatch applies before routing: keys, media types, origins, CORS, and
// which listener serves the operator's endpoints.
class api_policy : public ::testing::Test {
 protected:
  static constexpr const char* key = "sk-policy-test-0123456789";

  api_action run(http::verb verb, const std::string& target,
                 std::vector<std::pair<std::string, std::string>> headers = {},
                 std::string body = {}) {
    http_request req{verb, target, 11};
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();
    access_control access{options.access, service};
    api_context ctx{service, options, [] { return std::string{"# metrics\n"}; }, &access,
                    access.authenticate(credential_of(req))};
    return dispatch(req, ctx);
  }
  void require_keys(bool admin = false) {
    gateway_key k;
    k.name = "team";
    k.digest = sha256(key);
    k.admin = admin;
    options.access.keys = {k};
  }
  static std::pair<std::string, std::string> bearer() {
    return {"Authorization", std::string{"Bearer "} + key};
  }

  fake_service service;
  http_options options;
  const std::string chat = R"({"model":"mock","messages":[{"role":"user","content":"x"}]})";
  const std::vector<std::pair<std::string, std::string>> upgrade{
      {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},
      {"Sec-WebSocket-Version", "13"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Host", "gw.example:8080"}};
};

TEST_F(api_policy, json_endpoints_take_only_application_json) {
  for (auto type : {"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"}) {
    auto a = run(http::verb::post, "/v1/chat/completions", {{"Content-Type", type}}, chat);
    EXPECT_EQ(a.response.result_int(), 415u) << type;
    EXPECT_NE(a.response.body().find("unsupported_media_type"), std::string::npos);
    EXPECT_EQ(
        run(http::verb::post, "/v1/sessions", {{"Content-Type", type}}, chat).response.result_int(),
        415u);
  }
  for (auto type : {"application/json", "Application/JSON; charset=utf-8"}) {
    EXPECT_EQ(run(http::verb::post, "/v1/chat/completions", {{"Content-Type", type}}, chat).what,
              api_action::kind::chat_complete)
        << type;
  }
}

TEST_F(api_policy, with_keys_the_api_needs_one_and_says_so_with_401) {
  require_keys();
  auto missing = run(http::verb::get, "/v1/models");
  EXPECT_EQ(missing.response.result_int(), 401u);
  EXPECT_NE(missing.response.body().find("\"invalid_api_key\""), std::string::npos);
  EXPECT_EQ(missing.response[http::field::www_authenticate], "Bearer realm=\"streamgate\"");
  auto wrong =
      run(http::verb::post, "/v1/chat/completions",
          {{"Authorization", "Bearer sk-wrong"}, {"Content-Type", "application/json"}}, chat);
  EXPECT_EQ(wrong.response.result_int(), 401u);
  EXPECT_EQ(wrong.response.body().find("sk-wrong"), std::string::npos);  // never echoed
  EXPECT_EQ(run(http::verb::get, "/v1/models", {bearer()}).response.result_int(), 200u);
  EXPECT_EQ(run(http::verb::get, "/v1/sessions/x/events", {}).response.result_int(), 401u);
  EXPECT_EQ(run(http::verb::post, "/v1/sessions/x/cancel", {}).response.result_int(), 401u);
  // Health and the page need no key.
  EXPECT_EQ(run(http::verb::get, "/healthz").response.result_int(), 200u);
}

TEST_F(api_policy, a_websocket_without_a_key_is_taken_to_be_closed_with_4401) {
  require_keys();
  auto refused = run(http::verb::get, "/v1/ws", upgrade);
  EXPECT_EQ(refused.what, api_action::kind::websocket);
  EXPECT_EQ(refused.ws_close, 4401);
  EXPECT_EQ(refused.ws_reason, "invalid_api_key");
  auto with_header = upgrade;
  with_header.push_back(bearer());
  EXPECT_EQ(run(http::verb::get, "/v1/ws", with_header).ws_close, 0);
  // A browser's way: the key as a subprotocol.
  auto with_protocol = upgrade;
  with_protocol.push_back({"Sec-WebSocket-Protocol", std::string{"streamgate, bearer."} + key});
  EXPECT_EQ(run(http::verb::get, "/v1/ws", with_protocol).ws_close, 0);
}

TEST_F(api_policy, websocket_origins_are_the_same_host_unless_listed) {
  auto from = [&](const char* origin) {
    auto h = upgrade;
    h.push_back({"Origin", origin});
    return run(http::verb::get, "/v1/ws", h);
  };
  EXPECT_EQ(from("http://gw.example:8080").what, api_action::kind::websocket);
  auto hijack = from("https://evil.example");
  EXPECT_EQ(hijack.response.result_int(), 403u);
  EXPECT_NE(hijack.response.body().find("origin_not_allowed"), std::string::npos);
  EXPECT_EQ(run(http::verb::get, "/v1/ws", upgrade).what, api_action::kind::websocket);
  options.access.ws_origins = {"https://app.example"};
  EXPECT_EQ(from("https://app.example").what, api_action::kind::websocket);
  EXPECT_EQ(from("http://gw.example:8080").response.result_int(), 403u);
  options.access.ws_origins = {"*"};
  EXPECT_EQ(from("https://evil.example").what, api_action::kind::websocket);
}

TEST_F(api_policy, cors_is_off_by_default_and_answers_preflights_when_configured) {
  std::vector<std::pair<std::string, std::string>> preflight{
      {"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}};
  EXPECT_EQ(run(http::verb::options, "/v1/chat/completions", preflight).response.result_int(),
            403u);
  http_request req{http::verb::get, "/v1/models", 11};
  req.set(http::field::origin, "https://app.example");
  EXPECT_EQ(cors_headers(req, options), "");
  options.access.cors_origins = {"https://app.example"};
  auto ok = run(http::verb::options, "/v1/chat/completions", preflight);
  EXPECT_EQ(ok.response.result_int(), 204u);
  EXPECT_EQ(ok.response[http::field::access_control_allow_methods], "GET, POST");
  EXPECT_NE(ok.response[http::field::access_control_allow_headers].find("Authorization"),
            std::string::npos);
  auto lines = cors_headers(req, options);
  http_response res;
  add_cors_headers(res, lines);
  EXPECT_EQ(res[http::field::access_control_allow_origin], "https://app.example");
  EXPECT_EQ(res[http::field::vary], "Origin");
  req.set(http::field::origin, "https://other.example");
  EXPECT_EQ(cors_headers(req, options), "");
}

TEST_F(api_policy, the_operators_endpoints_are_not_on_the_public_listener) {
  options.admin = true;
  EXPECT_EQ(run(http::verb::get, "/metrics").response.result_int(), 404u);
  EXPECT_EQ(run(http::verb::get, "/admin/providers").response.result_int(), 404u);
  // Unless an admin key asks there.
  require_keys(true);
  EXPECT_EQ(run(http::verb::get, "/metrics", {bearer()}).response.result_int(), 200u);
  EXPECT_EQ(run(http::verb::get, "/admin/providers", {bearer()}).what,
            api_action::kind::admin_status);
  options.access.keys[0].admin = false;
  EXPECT_EQ(run(http::verb::get, "/metrics", {bearer()}).response.result_int(), 404u);
  // The admin listener serves them, and nothing of the API.
  options.access = {};
  options.serves = http_options::role::admin;
  EXPECT_EQ(run(http::verb::get, "/metrics").response.result_int(), 200u);
  EXPECT_EQ(run(http::verb::get, "/readyz").response.result_int(), 200u);
  EXPECT_EQ(run(http::verb::get, "/v1/models").response.result_int(), 404u);
  EXPECT_EQ(run(http::verb::get, "/v1/ws", upgrade).response.result_int(), 404u);
}

}  // namespace
}  // namespace streamgate

namespace streamgate {
namespace {

TEST(error_response, quota_exhausted_is_429_with_the_pools_retry_after) {
  auto res = error_response(11, true, error_code::quota_exhausted, "at quota", 17);
  EXPECT_EQ(res.result_int(), 429u);
  EXPECT_EQ(res[boost::beast::http::field::retry_after], "17");
  // Without a figure from the pool, clients still get a hint.
  EXPECT_EQ(error_response(11, true, error_code::quota_exhausted,
                           "x")[boost::beast::http::field::retry_after],
            "1");
}

}  // namespace
}  // namespace streamgate
