// The OpenAI-compatible HTTP API against the real server on a loopback port.

#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"
#include "transports/server/http_server.hpp"

#include <streamgate/chat_request.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

class chat_api : public ::testing::Test {
 protected:
  test_server server;

  // Reads a whole SSE response: the JSON chunks, and whether [DONE] ended it.
  struct stream_result {
    std::vector<json> chunks;
    std::vector<std::string> ids;
    bool done = false;
  };

  stream_result read_stream(http_client& c) {
    stream_result r;
    while (auto ev = c.next_event()) {
      if (ev->data.empty()) continue;  // keep-alive comment
      if (ev->data == "[DONE]") {
        r.done = true;
        continue;
      }
      r.chunks.push_back(json::parse(ev->data));
      r.ids.push_back(ev->id);
    }
    return r;
  }

  void expect_no_leaks() {
    EXPECT_TRUE(eventually([&] { return server.engine().counts().active_sessions == 0; }));
    EXPECT_TRUE(eventually([&] { return server.engine().counts().active_upstreams == 0; }));
  }
};

TEST_F(chat_api, streams_chunks_in_order_and_ends_with_done) {
  http_client c{server.port()};
  auto head = c.open_stream("POST", "/v1/chat/completions", mock_body(true, 5));
  ASSERT_EQ(head.status, 200u);
  EXPECT_EQ(head.header("content-type"), "text/event-stream");
  auto session = head.header("x-streamgate-session");
  EXPECT_EQ(session.rfind("sess_", 0), 0u);
  EXPECT_EQ(session.size(), 5u + 32u);

  auto r = read_stream(c);
  ASSERT_TRUE(r.done);
  ASSERT_EQ(r.chunks.size(), 6u);  // 5 deltas + finish
  std::string text;
  for (std::size_t i = 0; i < 5; ++i) {
    auto& ch = r.chunks[i];
    EXPECT_EQ(ch["object"], "chat.completion.chunk");
    EXPECT_EQ(ch["model"], "mock");
    EXPECT_EQ(ch["id"], "chatcmpl-" + session);
    EXPECT_TRUE(ch["created"].is_number_integer());
    EXPECT_EQ(ch["choices"][0]["index"], 0);
    EXPECT_TRUE(ch["choices"][0]["finish_reason"].is_null());
    EXPECT_EQ(ch["choices"][0]["delta"].contains("role"), i == 0);
    EXPECT_EQ(r.ids[i], std::to_string(i + 1));
    text += ch["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, mock_text(5));
  EXPECT_EQ(r.chunks[5]["choices"][0]["finish_reason"], "stop");
  expect_no_leaks();
}

// The client reads nothing until the whole answer is out of the session: tokens are written
// from the delivering thread while the socket takes them, then queue behind an async write on
// the connection's strand. Once the client reads, every token arrives, once, in order.
TEST_F(chat_api, a_client_that_reads_late_gets_every_token_in_order) {
  // About 9 MB of SSE: more than the kernel's socket buffers hold (their autotuning stops at
  // 4 MiB on the sending side), within a raised bound for the connection's own buffer.
  constexpr unsigned tokens = 40000;
  auto o = test_server::default_options();
  o.max_pending_bytes = 64 << 20;
  test_server late_server{gateway_config::with_mock_provider(), o};
  http_client c{late_server.port(), std::chrono::seconds(10), 4096};
  auto head = c.open_stream("POST", "/v1/chat/completions", mock_body(true, tokens));
  ASSERT_EQ(head.status, 200u);
  ASSERT_TRUE(eventually([&] { return late_server.engine().counts().active_sessions == 0; },
                         std::chrono::seconds(20)));

  auto r = read_stream(c);
  ASSERT_TRUE(r.done);
  ASSERT_EQ(r.chunks.size(), tokens + 1);
  std::string text;
  for (std::size_t i = 0; i < tokens; ++i) {
    ASSERT_EQ(r.ids[i], std::to_string(i + 1));
    text += r.chunks[i]["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, mock_text(tokens));
  EXPECT_EQ(late_server.server().slow_consumer_drops(), 0u);
  EXPECT_TRUE(eventually([&] { return late_server.engine().counts().active_upstreams == 0; }));
}

TEST_F(chat_api, include_usage_adds_the_usage_chunk_before_done) {
  http_client c{server.port()};
  c.open_stream("POST", "/v1/chat/completions", mock_body(true, 3, 0, 0, true));
  auto r = read_stream(c);
  ASSERT_TRUE(r.done);
  ASSERT_EQ(r.chunks.size(), 5u);
  auto& usage = r.chunks.back();
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
  EXPECT_EQ(usage["usage"]["total_tokens"], usage["usage"]["prompt_tokens"].get<int>() + 3);

  http_client plain{server.port()};
  plain.open_stream("POST", "/v1/chat/completions", mock_body(true, 3));
  for (auto& ch : read_stream(plain).chunks) EXPECT_FALSE(ch.contains("usage"));
}

TEST_F(chat_api, non_streaming_request_returns_one_completion) {
  http_client c{server.port()};
  auto reply = c.request("POST", "/v1/chat/completions", mock_body(false, 4));
  ASSERT_EQ(reply.status, 200u);
  auto j = json::parse(reply.body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], mock_text(4));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["completion_tokens"], 4);
}

TEST_F(chat_api, keep_alive_serves_several_requests_on_one_connection) {
  http_client c{server.port()};
  for (int i = 0; i < 3; ++i) {
    auto head = c.open_stream("POST", "/v1/chat/completions", mock_body(true, 2));
    ASSERT_EQ(head.status, 200u);
    EXPECT_TRUE(read_stream(c).done);
  }
  EXPECT_EQ(c.request("GET", "/healthz").status, 200u);
}

TEST_F(chat_api, client_disconnect_cancels_the_session_and_stops_the_mock) {
  http_client c{server.port()};
  c.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000, 5));
  ASSERT_TRUE(c.next_event().has_value());
  EXPECT_EQ(server.engine().counts().active_upstreams, 1u);
  c.close();
  expect_no_leaks();
}

TEST_F(chat_api, models_and_health) {
  http_client c{server.port()};
  auto models = c.request("GET", "/v1/models");
  ASSERT_EQ(models.status, 200u);
  auto j = json::parse(models.body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0]["id"], "mock");
  auto health = json::parse(c.request("GET", "/healthz").body);
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["active_sessions"], 0);
}

// Bad input: every case gets a clear OpenAI-shaped error and leaks nothing.
struct bad_request_case {
  const char* name;
  const char* method;
  const char* target;
  std::string body;
  unsigned status;
  const char* code;
};

class chat_api_bad_input : public chat_api,
                           public ::testing::WithParamInterface<bad_request_case> {};

TEST_P(chat_api_bad_input, is_refused_with_a_clear_error) {
  auto& p = GetParam();
  http_client c{server.port()};
  auto reply = c.request(p.method, p.target, p.body);
  EXPECT_EQ(reply.status, p.status) << reply.body;
  auto j = json::parse(reply.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << reply.body;
  EXPECT_EQ(j["error"]["code"], p.code);
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_TRUE(j["error"]["type"].is_string());
  // The connection stays usable after a 4xx.
  EXPECT_EQ(c.request("GET", "/healthz").status, 200u);
  expect_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(
    cases, chat_api_bad_input,
    ::testing::Values(
        bad_request_case{"malformed_json", "POST", "/v1/chat/completions", "{\"model\": ", 400,
                         "invalid_json"},
        bad_request_case{"missing_messages", "POST", "/v1/chat/completions", R"({"model":"mock"})",
                         400, "invalid_request"},
        bad_request_case{"empty_messages", "POST", "/v1/chat/completions",
                         R"({"model":"mock","messages":[]})", 400, "invalid_request"},
        bad_request_case{"messages_wrong_type", "POST", "/v1/chat/completions",
                         R"({"model":"mock","messages":"hi"})", 400, "invalid_request"},
        bad_request_case{
            "stream_wrong_type", "POST", "/v1/chat/completions",
            R"({"model":"mock","stream":"yes","messages":[{"role":"user","content":"x"}]})", 400,
            "invalid_request"},
        bad_request_case{"model_wrong_type", "POST", "/v1/chat/completions",
                         R"({"model":7,"messages":[{"role":"user","content":"x"}]})", 400,
                         "invalid_request"},
        bad_request_case{"body_not_an_object", "POST", "/v1/chat/completions", "[1,2]", 400,
                         "invalid_request"},
        bad_request_case{
            "nul_bytes_after_the_json", "POST", "/v1/chat/completions",
            R"({"model":"mock","messages":[{"role":"user","content":"x"}]})" + std::string(2, '\0'),
            400, "invalid_json"},
        bad_request_case{
            "unknown_model", "POST", "/v1/chat/completions",
            R"({"model":"gpt-nope","stream":true,"messages":[{"role":"user","content":"x"}]})", 404,
            "model_not_found"},
        bad_request_case{"wrong_method", "GET", "/v1/chat/completions", "", 405,
                         "method_not_allowed"},
        bad_request_case{"unknown_path", "GET", "/v1/nothing-here", "", 404, "not_found"},
        bad_request_case{"unknown_session", "GET", "/v1/sessions/sess_0/events", "", 404,
                         "session_not_found"}),
    [](const auto& info) { return std::string{info.param.name}; });

TEST_F(chat_api, a_200000_deep_field_is_a_400_and_the_server_serves_on) {
  // Accepted, this body was copied and dumped recursively on its way to a provider: the whole
  // process died of a stack overflow.
  auto body = R"({"model":"mock","messages":[{"role":"user","content":"x"}],"x":)" +
              std::string(200000, '[') + std::string(200000, ']') + "}";
  ASSERT_LT(body.size(), test_server::default_options().max_body_bytes);
  http_client c{server.port()};
  auto reply = c.request("POST", "/v1/chat/completions", body);
  EXPECT_EQ(reply.status, 400u) << reply.body.substr(0, 200);
  auto j = json::parse(reply.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << reply.body.substr(0, 200);
  EXPECT_EQ(j["error"]["code"], "invalid_request");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("64 levels"), std::string::npos)
      << reply.body;
  http_client next{server.port()};
  EXPECT_EQ(next.request("POST", "/v1/chat/completions", mock_body(false, 3)).status, 200u);
  expect_no_leaks();
}

TEST_F(chat_api, body_over_the_limit_is_413) {
  http_client c{server.port()};
  std::string big(2 << 20, 'x');
  auto reply = c.request("POST", "/v1/chat/completions", big);
  EXPECT_EQ(reply.status, 413u);
  EXPECT_EQ(json::parse(reply.body)["error"]["code"], "body_too_large");
  expect_no_leaks();
}

TEST_F(chat_api, oversized_headers_are_431) {
  http_client c{server.port()};
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') +
             "\r\n\r\n");
  auto reply = c.read_reply();
  EXPECT_TRUE(reply.status == 431u || reply.status == 0u) << reply.status;
  EXPECT_TRUE(eventually([&] { return c.peer_closed(); }));
}

// A malformed request hears why (400 with the usual error body) before its connection closes;
// it used to be closed without a word (issue 17).
TEST_F(chat_api, garbage_instead_of_http_gets_400_and_closes_only_that_connection) {
  for (std::string garbage : {std::string{"\x16\x03\x01 this is not http\r\n\r\n"},
                              std::string{"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n"},
                              std::string{"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                          "Content-Length: 12x\r\n\r\n"}}) {
    http_client c{server.port()};
    c.send_raw(garbage);
    auto reply = c.read_reply();
    EXPECT_EQ(reply.status, 400u) << garbage;
    auto j = json::parse(reply.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << reply.body;
    EXPECT_EQ(j["error"]["code"], "invalid_request");
    EXPECT_EQ(reply.header("connection"), "close");
    EXPECT_TRUE(eventually([&] { return c.peer_closed(); }));
  }
  http_client other{server.port()};
  EXPECT_EQ(other.request("GET", "/healthz").status, 200u);
}

// HTTP/1.0 has no chunked encoding: a 1.0 client's stream is the bare SSE text, ended by the
// connection's close; a non-streamed answer has a Content-Length (issue 17).
TEST_F(chat_api, an_http_1_0_client_gets_an_unchunked_stream_ended_by_the_close) {
  http_client c{server.port()};
  auto body = mock_body(true, 3);
  c.send_raw(
      "POST /v1/chat/completions HTTP/1.0\r\nConnection: keep-alive\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  auto all = c.read_to_close();
  auto head_end = all.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << all;
  auto head = all.substr(0, head_end);
  EXPECT_EQ(head.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << head;
  EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
  EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
  auto sse = all.substr(head_end + 4);
  EXPECT_EQ(sse.rfind("id: 1\ndata: {", 0), 0u) << sse;
  EXPECT_EQ(sse.substr(sse.size() - 14), "data: [DONE]\n\n") << sse;
  expect_no_leaks();

  http_client plain{server.port()};
  plain.send_raw("GET /healthz HTTP/1.0\r\n\r\n");
  auto health = plain.read_to_close();
  EXPECT_EQ(health.find("Transfer-Encoding"), std::string::npos) << health;
  EXPECT_NE(health.find("Content-Length: "), std::string::npos) << health;
}

// Echoed client text is cut short: a 100 KB model name, a long path (issue 17).
TEST_F(chat_api, errors_do_not_echo_long_client_text) {
  http_client c{server.port()};
  auto model = std::string(100 * 1024, 'm');
  auto reply =
      c.request("POST", "/v1/chat/completions",
                R"({"model":")" + model + R"(","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(reply.status, 400u);
  EXPECT_EQ(json::parse(reply.body)["error"]["code"], "invalid_request");
  EXPECT_LT(reply.body.size(), 1024u) << reply.body.size();

  auto name = std::string(max_model_bytes, 'n');
  reply = c.request("POST", "/v1/chat/completions",
                    R"({"model":")" + name + R"(","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(reply.status, 404u);
  EXPECT_EQ(json::parse(reply.body)["error"]["code"], "model_not_found");
  EXPECT_LT(reply.body.size(), 1024u) << reply.body.size();

  reply = c.request("GET", "/v1/" + std::string(8 * 1024, 'p'));
  EXPECT_EQ(reply.status, 404u);
  EXPECT_LT(reply.body.size(), 1024u) << reply.body.size();
}

// A client that sends something during its stream (a byte, a pipelined request) is still
// watched: when it goes, its session ends. The watch used to stop at the first byte, and the
// session and its upstream lived on until a write failed (issue 17).
TEST_F(chat_api, a_client_that_sends_a_byte_mid_stream_is_still_watched_for_its_going) {
  http_client c{server.port()};
  // One token, then nothing for a minute: only the watch can notice the client leave.
  c.open_stream("POST", "/v1/chat/completions", mock_body(true, 100, 60000));
  ASSERT_TRUE(c.next_event().has_value());
  c.send_raw("x");
  EXPECT_EQ(server.engine().counts().active_sessions, 1u);
  c.close();
  expect_no_leaks();
}

TEST_F(chat_api, a_request_pipelined_during_a_stream_is_answered_after_it) {
  http_client c{server.port()};
  c.open_stream("POST", "/v1/chat/completions", mock_body(true, 5, 20));
  ASSERT_TRUE(c.next_event().has_value());
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = read_stream(c);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(c.read_reply().status, 200u);
  expect_no_leaks();
}

TEST(chat_api_limits, a_client_that_sends_more_than_a_request_mid_stream_is_dropped) {
  auto options = test_server::default_options();
  options.max_body_bytes = 1024;
  options.max_header_bytes = 1024;
  test_server server{gateway_config::with_mock_provider(), options};
  http_client c{server.port()};
  c.open_stream("POST", "/v1/chat/completions", mock_body(true, 100, 60000));
  ASSERT_TRUE(c.next_event().has_value());
  c.send_raw(std::string(8 * 1024, 'x'));
  EXPECT_TRUE(eventually([&] { return c.peer_closed(); }));
  EXPECT_TRUE(eventually([&] { return server.engine().counts().active_sessions == 0; }));
}

}  // namespace
}  // namespace streamgate::test
