// What an upstream HTTP response means for the client: status codes, bounds, cut streams
// and transport failures, each ending in exactly one terminal event with a stable code.

#include "providers/http/upstream_response.hpp"
#include "actors/error_code.hpp"
#include "actors/json_input.hpp"

#include <gtest/gtest.h>

namespace streamgate {
namespace {

const std::string key = "sk-test-0123456789abcdef";

struct response_run {
  upstream_response r{adapter_kind::openai, 4096, 512, secret{key}};
  std::vector<stream_event> out;
  bool go_on = true;

  response_run& head(const std::string& status_line, std::vector<std::string> headers = {}) {
    r.on_header(status_line + "\r\n");
    for (auto& h : headers) r.on_header(h + "\r\n");
    r.on_header("\r\n");
    return *this;
  }
  response_run& body(const std::string& bytes) {
    go_on = r.on_body(bytes, out) && go_on;
    return *this;
  }
  response_run& complete() {
    r.on_complete(out);
    return *this;
  }
  const stream_event& last() const { return out.back(); }
  int terminals() const {
    int n = 0;
    for (auto& e : out) n += e.terminal() ? 1 : 0;
    return n;
  }
};

TEST(upstream_response, a_good_stream_yields_deltas_and_one_finish) {
  response_run t;
  t.head("HTTP/1.1 200 OK", {"Content-Type: text/event-stream"})
      .body("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n")
      .body("data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
      .complete();
  ASSERT_EQ(t.out.size(), 3u);
  EXPECT_EQ(t.out[0].text, "hi");
  EXPECT_EQ(finish_reason_of(t.out[1].fields.get()), "stop");  // the choice's end
  EXPECT_EQ(t.last().kind, event_kind::finish);
  EXPECT_TRUE(t.go_on);
}

TEST(upstream_response, bytes_after_the_finish_are_drained_not_decoded) {
  response_run t;
  t.head("HTTP/2 200").body("data: [DONE]\n\ndata: {garbage\n\n").complete();
  EXPECT_EQ(t.terminals(), 1);
  EXPECT_EQ(t.last().kind, event_kind::finish);
  EXPECT_TRUE(t.go_on);
}

TEST(upstream_response, auth_failures_never_echo_the_provider_text) {
  for (auto status : {"401 Unauthorized", "403 Forbidden"}) {
    response_run t;
    t.head(std::string{"HTTP/1.1 "} + status)
        .body(R"({"error":{"message":"Incorrect API key provided: )" + key + R"("}})")
        .complete();
    ASSERT_EQ(t.out.size(), 1u);
    EXPECT_EQ(t.last().code, error_code::upstream_auth_failed);
    EXPECT_EQ(t.last().text.find(key), std::string::npos);
    EXPECT_EQ(t.last().text.find("sk-"), std::string::npos);
  }
}

TEST(upstream_response, bad_request_passes_the_message_through_without_the_key) {
  response_run t;
  t.head("HTTP/1.1 400 Bad Request")
      .body("{\"error\":{\"message\":\"max_tokens is too large (key " + key +
            ")\",\"code\":\"x\"}}")
      .complete();
  EXPECT_EQ(t.last().code, error_code::upstream_bad_request);
  EXPECT_EQ(t.last().text, "max_tokens is too large (key ***)");
}

// The first piece of `key` of at least 6 characters found in `text`, or "".
std::string piece_of_key(const std::string& text) {
  for (std::size_t at = 0; at + 6 <= key.size(); ++at)
    if (text.find(key.substr(at, 6)) != std::string::npos) return key.substr(at, 6);
  return {};
}

TEST(upstream_response, a_key_across_the_message_cut_is_scrubbed_at_every_offset) {
  // Messages are cut at 400 characters; a key across the cut used to lose its end before
  // redaction looked for it, and all but its last character reached the client.
  for (auto status : {"400 Bad Request", "429 Too Many", "500 Oops", "200 OK"}) {
    for (std::size_t at = 300; at <= 420; ++at) {
      response_run t;
      t.head(std::string{"HTTP/1.1 "} + status, {"Content-Type: application/json"})
          .body(R"({"error":{"message":")" + std::string(at, '.') + key + R"( again )" + key +
                R"("}})")
          .complete();
      ASSERT_EQ(t.terminals(), 1) << status << at;
      EXPECT_EQ(piece_of_key(t.last().text), "") << status << " at " << at << ": " << t.last().text;
      EXPECT_LT(t.last().text.size(), 500u);
    }
  }
  // The same for a body that is not JSON, and for a key the provider cut itself.
  for (std::size_t at = 390; at <= 400; ++at) {
    response_run t;
    t.head("HTTP/1.1 400 Bad Request").body(std::string(at, '.') + key).complete();
    EXPECT_EQ(piece_of_key(t.last().text), "") << at << ": " << t.last().text;
  }
  EXPECT_EQ(provider_message(R"({"error":"bad key )" + key.substr(0, 12) + R"(..."})", secret{key}),
            "bad key ***...");
}

TEST(upstream_response, not_found_means_the_model) {
  response_run t;
  t.head("HTTP/1.1 404 Not Found")
      .body(R"({"error":{"message":"model glm-9 not found"}})")
      .complete();
  EXPECT_EQ(t.last().code, error_code::upstream_model_not_found);
  EXPECT_EQ(t.last().text, "model glm-9 not found");
}

TEST(upstream_response, rate_limit_remembers_retry_after) {
  response_run t;
  t.head("HTTP/1.1 429 Too Many Requests", {"retry-after: 7"}).body("{}").complete();
  EXPECT_EQ(t.last().code, error_code::upstream_rate_limited);
  EXPECT_EQ(t.last().retry_after_s, 7u);
}

TEST(upstream_response, server_errors_and_other_statuses) {
  for (auto [line, code] : {std::pair{"HTTP/1.1 500 Internal", error_code::upstream_server_error},
                            {"HTTP/1.1 503 Unavailable", error_code::upstream_server_error},
                            {"HTTP/1.1 408 Timeout", error_code::upstream_server_error},
                            {"HTTP/1.1 422 Unprocessable", error_code::upstream_bad_request}}) {
    response_run t;
    t.head(line).complete();
    ASSERT_EQ(t.out.size(), 1u) << line;
    EXPECT_EQ(t.last().code, code) << line;
  }
}

TEST(upstream_response, a_huge_error_body_is_bounded) {
  response_run t;
  t.head("HTTP/1.1 500 Oops");
  for (int i = 0; i < 100; ++i) t.body(std::string(64 << 10, 'e'));
  t.complete();
  EXPECT_EQ(t.last().code, error_code::upstream_server_error);
  EXPECT_LT(t.last().text.size(), 1000u);
}

TEST(upstream_response, continue_then_ok) {
  response_run t;
  t.head("HTTP/1.1 100 Continue").head("HTTP/1.1 200 OK").body("data: [DONE]\n\n").complete();
  EXPECT_EQ(t.last().kind, event_kind::finish);
}

TEST(upstream_response, a_body_over_the_limit_aborts_with_too_large) {
  response_run t;
  t.head("HTTP/1.1 200 OK");
  for (int i = 0; i < 100 && t.go_on; ++i)
    t.body(
        "data: "
        "{\"choices\":[{\"delta\":{\"content\":\"0123456789012345678901234567890123456789\"}}]}\n\n"
        ": pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad\n\n");
  EXPECT_FALSE(t.go_on);
  EXPECT_EQ(t.last().code, error_code::upstream_too_large);
  t.complete();
  EXPECT_EQ(t.terminals(), 1);
}

TEST(upstream_response, a_line_over_the_limit_aborts_with_too_large) {
  response_run t;
  t.head("HTTP/1.1 200 OK").body("data: " + std::string(600, 'x'));
  EXPECT_FALSE(t.go_on);
  EXPECT_EQ(t.last().code, error_code::upstream_too_large);
}

TEST(upstream_response, a_mid_stream_error_aborts_the_transfer) {
  response_run t;
  t.head("HTTP/1.1 200 OK").body("data: {\"error\":{\"message\":\"nope\"}}\n\n");
  EXPECT_FALSE(t.go_on);
  EXPECT_EQ(t.last().code, error_code::upstream_error);
}

TEST(upstream_response, transport_failures) {
  {
    response_run t;  // nothing received: the driver's code stands
    t.r.on_failure(error_code::upstream_connect_failed, "refused", t.out);
    EXPECT_EQ(t.last().code, error_code::upstream_connect_failed);
  }
  {
    response_run t;  // a reset mid-stream is an interruption
    t.head("HTTP/1.1 200 OK").body("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n");
    t.r.on_failure(error_code::upstream_interrupted, "reset", t.out);
    EXPECT_EQ(t.last().code, error_code::upstream_interrupted);
    EXPECT_EQ(t.terminals(), 1);
  }
  {
    response_run t;  // a timeout keeps its own code
    t.head("HTTP/1.1 200 OK");
    t.r.on_failure(error_code::upstream_idle_timeout, "idle", t.out);
    EXPECT_EQ(t.last().code, error_code::upstream_idle_timeout);
  }
  {
    response_run t;  // a 503 whose body never ends: the status is the cause
    t.head("HTTP/1.1 503 Busy");
    t.r.on_failure(error_code::upstream_idle_timeout, "idle", t.out);
    EXPECT_EQ(t.last().code, error_code::upstream_server_error);
  }
}

TEST(upstream_response, nothing_after_the_terminal_event) {
  response_run t;
  t.head("HTTP/1.1 200 OK").body("data: [DONE]\n\n");
  t.r.on_failure(error_code::upstream_interrupted, "late reset", t.out);
  t.complete();
  EXPECT_EQ(t.terminals(), 1);
  EXPECT_EQ(t.last().kind, event_kind::finish);
}

TEST(upstream_response, a_json_error_with_status_200) {
  response_run t;
  t.head("HTTP/1.1 200 OK", {"Content-Type: application/json; charset=utf-8"})
      .body(R"({"error":{"code":"1301","message":"unsafe content"}})")
      .complete();
  ASSERT_EQ(t.out.size(), 1u);
  EXPECT_EQ(t.last().code, error_code::upstream_error);
  EXPECT_EQ(t.last().text, "unsafe content");
}

TEST(upstream_response, a_whole_completion_instead_of_a_stream) {
  response_run t;
  t.head("HTTP/1.1 200 OK", {"content-type: application/json"})
      .body(R"({"choices":[{"message":{"role":"assistant","content":"all at )")
      .body(
          R"(once"},"finish_reason":"length"}],"usage":{"prompt_tokens":2,"completion_tokens":3}})")
      .complete();
  ASSERT_EQ(t.out.size(), 3u);
  EXPECT_EQ(t.out[0].text, "all at once");
  EXPECT_EQ(t.out[1].usage.completion_tokens, 3u);
  EXPECT_EQ(t.out[2].kind, event_kind::finish);
  EXPECT_EQ(t.out[2].text, "length");
}

TEST(upstream_response, a_json_answer_is_bounded_and_checked) {
  response_run big;
  big.head("HTTP/1.1 200 OK", {"content-type: application/json"});
  for (int i = 0; i < 10 && big.go_on; ++i) big.body(std::string(1000, ' '));
  EXPECT_FALSE(big.go_on);
  EXPECT_EQ(big.last().code, error_code::upstream_too_large);
  response_run junk;
  junk.head("HTTP/1.1 200 OK", {"content-type: application/json"}).body("{\"x\":1}").complete();
  EXPECT_EQ(junk.last().code, error_code::upstream_malformed);
}

TEST(upstream_response, deep_nesting_from_a_provider_is_refused_not_built) {
  auto deep = std::string(1000, '[') + std::string(1000, ']');
  response_run answer;
  answer.head("HTTP/1.1 200 OK", {"content-type: application/json"})
      .body(R"({"choices":[{"message":{"content":"x"},"finish_reason":"stop"}],"x":)" + deep + "}")
      .complete();
  ASSERT_EQ(answer.out.size(), 1u);
  EXPECT_EQ(answer.last().code, error_code::upstream_malformed);
  EXPECT_NE(answer.last().text.find("levels deep"), std::string::npos) << answer.last().text;
  response_run error;
  error.head("HTTP/1.1 400 Bad Request")
      .body(R"({"error":{"message":"m","x":)" + deep + "}}")
      .complete();
  EXPECT_EQ(error.last().code, error_code::upstream_bad_request);
  EXPECT_EQ(error.last().text, "the provider's error body nests arrays or objects more than " +
                                   std::to_string(max_json_depth) + " levels deep");
}

TEST(parse_retry_after, seconds_dates_and_garbage) {
  EXPECT_EQ(parse_retry_after(" 12 ", 0), 12u);
  EXPECT_EQ(parse_retry_after("999999", 0), 3600u);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10u);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0u);
  EXPECT_EQ(parse_retry_after("soon", 0), 0u);
  EXPECT_EQ(parse_retry_after("-5", 0), 0u);
}

TEST(provider_message, common_error_shapes) {
  EXPECT_EQ(provider_message(R"({"error":{"message":"a"}})"), "a");
  EXPECT_EQ(provider_message(R"({"error":"b"})"), "b");
  EXPECT_EQ(provider_message(R"({"message":"c"})"), "c");
  EXPECT_EQ(provider_message(R"({"error":{"code":"1210","msg":"d"}})"), "d");
  EXPECT_EQ(provider_message("  plain text \n"), "plain text");
  EXPECT_LT(provider_message(std::string(5000, 'z')).size(), 500u);
}

}  // namespace
}  // namespace streamgate
