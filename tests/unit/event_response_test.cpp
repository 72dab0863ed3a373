// What a session's events become on an HTTP/1.1 connection, without a socket: the chunked SSE
// body, the non-streamed answer and the long-poll page.

#include "transports/http/event_response.hpp"

#include "actors/error_code.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace streamgate {
namespace {

using json = nlohmann::json;
using kind = event_response::kind;

stream_event numbered(stream_event ev, std::uint64_t seq) {
  ev.seq = seq;
  return ev;
}

TEST(event_response, sse_body_is_chunked_with_headers_first_and_ends_after_the_terminal_event) {
  event_response r;
  r.start(kind::sse, "sess_1", "mock", false, 11, true);
  EXPECT_FALSE(r.add(numbered(stream_event::make_delta("Hi"), 1)).has_value());
  auto first = r.take_pending();
  EXPECT_EQ(first.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(first.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(first.find("X-Streamgate-Session: sess_1\r\n\r\n"), std::string::npos);
  EXPECT_NE(first.find("\"role\":\"assistant\",\"content\":\"Hi\""), std::string::npos);
  EXPECT_EQ(r.pending_size(), 0u);
  EXPECT_FALSE(r.done());

  r.add(numbered(stream_event::make_delta(" there"), 2));
  auto second = r.take_pending();
  EXPECT_EQ(second.find("HTTP/1.1"), std::string::npos);  // headers only once
  EXPECT_EQ(second.find("role"), std::string::npos);      // the role only in the first chunk
  EXPECT_NE(second.find("id: 2\ndata: "), std::string::npos);

  r.add(numbered(stream_event::make_finish("stop"), 3));
  EXPECT_TRUE(r.done());
  auto last = r.take_pending();
  EXPECT_NE(last.find("data: [DONE]\n\n"), std::string::npos);
  EXPECT_EQ(last.size() - last.rfind("0\r\n\r\n"), 5u);  // ends with the last chunk
}

// The chunk sizes are written by hand in hex: every one must match its chunk exactly, and the
// chunks together must be the SSE events with the tokens intact.
TEST(event_response, every_chunk_size_matches_its_chunk) {
  event_response r;
  r.start(kind::sse, "sess_1", "mock", false, 11, true);
  std::vector<std::string> tokens;
  for (std::size_t n : {1, 15, 16, 200, 255, 256, 4095, 4096, 70000})
    tokens.push_back(std::string(n, static_cast<char>('a' + n % 26)));
  std::uint64_t seq = 0;
  for (auto& t : tokens) r.add(numbered(stream_event::make_delta(t), ++seq));
  r.add(numbered(stream_event::make_choice_end(0, "stop"), ++seq));
  r.add(numbered(stream_event::make_finish("stop"), ++seq));
  auto bytes = r.take_pending();
  auto pos = bytes.find("\r\n\r\n") + 4;  // past the headers
  std::string body;
  for (;;) {
    auto eol = bytes.find("\r\n", pos);
    ASSERT_NE(eol, std::string::npos);
    auto size = std::stoul(bytes.substr(pos, eol - pos), nullptr, 16);
    ASSERT_EQ(bytes.substr(pos, eol - pos).find_first_not_of("0123456789abcdef"),
              std::string::npos);
    pos = eol + 2;
    if (size == 0) break;
    ASSERT_LE(pos + size + 2, bytes.size());
    body += bytes.substr(pos, size);
    ASSERT_EQ(bytes.substr(pos + size, 2), "\r\n");
    pos += size + 2;
  }
  EXPECT_EQ(bytes.substr(pos), "\r\n");
  std::size_t i = 0;
  for (auto at = body.find("data: {"); at != std::string::npos; at = body.find("data: {", at + 1)) {
    auto chunk = json::parse(body.substr(at + 6, body.find("\n\n", at) - at - 6));
    auto& delta = chunk["choices"][0]["delta"];
    if (i < tokens.size()) {
      EXPECT_EQ(delta["content"], tokens[i]);
    }
    ++i;
  }
  EXPECT_EQ(i, tokens.size() + 1);  // and the finish chunk
}

TEST(event_response, sse_error_before_anything_was_sent_is_a_real_status) {
  event_response r;
  r.start(kind::sse, "sess_1", "mock", false, 11, true);
  auto whole = r.add(stream_event::make_error(std::string{error_code::model_not_found}, "nope"));
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->result_int(), 404u);
  EXPECT_EQ(json::parse(whole->body())["error"]["code"], "model_not_found");
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.pending_size(), 0u);

  // After the first byte an error is an SSE event like any other.
  r.start(kind::sse, "sess_2", "mock", false, 11, false);
  r.add(numbered(stream_event::make_delta("a"), 1));
  EXPECT_FALSE(r.add(numbered(stream_event::make_error("upstream_error", "boom"), 2)));
  auto body = r.take_pending();
  EXPECT_NE(body.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(body.find("\"code\":\"upstream_error\""), std::string::npos);
  EXPECT_TRUE(r.done());
}

TEST(event_response, keepalives_and_a_stream_resumed_after_its_end) {
  event_response r;
  r.start(kind::sse, "sess_1", "", true, 11, true);
  r.keepalive();
  auto bytes = r.take_pending();
  EXPECT_EQ(bytes.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(bytes.find("e\r\n: keep-alive\n\n\r\n"), std::string::npos);
  r.end_done();
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.take_pending(), "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n");
}

// HTTP/1.0 has no chunked encoding (issue 17): the stream is the raw SSE text, and its end is
// the connection's, whatever keep-alive the client asked for.
TEST(event_response, an_http_1_0_stream_is_unchunked_and_closes_the_connection) {
  event_response r;
  r.start(kind::sse, "sess_1", "mock", false, 10, true);
  EXPECT_FALSE(r.keep_alive());
  r.add(numbered(stream_event::make_delta("Hi"), 1));
  r.keepalive();
  r.add(numbered(stream_event::make_choice_end(0, "stop"), 2));
  r.add(numbered(stream_event::make_finish("stop"), 3));
  auto bytes = r.take_pending();
  EXPECT_EQ(bytes.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_EQ(bytes.find("Transfer-Encoding"), std::string::npos);
  EXPECT_NE(bytes.find("Connection: close\r\n"), std::string::npos);
  auto body = bytes.substr(bytes.find("\r\n\r\n") + 4);
  EXPECT_EQ(body.rfind("id: 1\ndata: {", 0), 0u) << body;
  EXPECT_NE(body.find("\n\n: keep-alive\n\nid: 2\ndata: {"), std::string::npos) << body;
  EXPECT_EQ(body.size() - body.rfind("id: 3\ndata: [DONE]\n\n"), 20u) << body;
  EXPECT_TRUE(r.done());
  // Other responses keep the connection as the client asked.
  r.start(kind::collect, "sess_2", "mock", false, 10, true);
  EXPECT_TRUE(r.keep_alive());
}

TEST(event_response, usage_is_sent_before_done_only_when_asked_for) {
  for (bool include : {false, true}) {
    event_response r;
    r.start(kind::sse, "s", "mock", include, 11, true);
    r.add(numbered(stream_event::make_delta("x"), 1));
    r.add(numbered(stream_event::make_usage({3, 4}), 2));
    r.add(numbered(stream_event::make_finish("stop"), 3));
    auto body = r.take_pending();
    EXPECT_EQ(body.find("\"total_tokens\":7") != std::string::npos, include) << include;
  }
}

TEST(event_response, a_non_streamed_answer_is_collected_into_one_completion) {
  event_response r;
  r.start(kind::collect, "sess_9", "mock", false, 11, true);
  EXPECT_FALSE(r.add(stream_event::make_delta("Hello ")));
  EXPECT_FALSE(r.add(stream_event::make_delta("world")));
  EXPECT_FALSE(r.add(stream_event::make_usage({2, 2})));
  EXPECT_EQ(r.pending_size(), 0u);  // nothing is streamed
  auto whole = r.add(stream_event::make_finish("stop"));
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->result_int(), 200u);
  EXPECT_EQ((*whole)["X-Streamgate-Session"], "sess_9");
  auto j = json::parse(whole->body());
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello world");
  EXPECT_EQ(j["usage"]["total_tokens"], 4);

  r.start(kind::collect, "sess_10", "mock", false, 11, true);
  stream_event cancelled;
  cancelled.kind = event_kind::cancelled;
  auto refused = r.add(cancelled);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(json::parse(refused->body())["error"]["code"], "cancelled");
}

TEST(event_response, a_long_poll_page_holds_the_events_after_its_position) {
  event_response r;
  r.start(kind::poll, "sess_p", "", false, 11, true, 3);
  EXPECT_EQ(r.poll_last_seq(), 3u);
  EXPECT_FALSE(r.poll_has_events());
  r.add(numbered(stream_event::make_delta("a"), 4));
  r.add(numbered(stream_event::make_delta("b"), 5));
  auto page = json::parse(r.poll_page().body());
  EXPECT_EQ(page["session"], "sess_p");
  ASSERT_EQ(page["events"].size(), 2u);
  EXPECT_EQ(page["events"][1]["content"], "b");
  EXPECT_EQ(page["last_seq"], 5);
  EXPECT_EQ(page["done"], false);

  r.start(kind::poll, "sess_p", "", false, 11, true, 5);
  r.add(numbered(stream_event::make_finish("stop"), 6));
  EXPECT_TRUE(r.poll_ended());
  // The replay found nothing new, but the session has ended: an empty, final page.
  r.start(kind::poll, "sess_p", "", false, 11, true, 6);
  r.poll_replayed(true);
  page = json::parse(r.poll_page().body());
  EXPECT_TRUE(page["events"].empty());
  EXPECT_EQ(page["done"], true);
}

}  // namespace
}  // namespace streamgate
