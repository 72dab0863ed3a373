// Every fault the fake upstream can inject, through a real streamgate: the client sees
// exactly one terminal event with the right code (or a transparent success), and the server
// keeps serving afterwards.

#include "actors/error_code.hpp"
#include "tests/integration/upstream_fixture.hpp"
#include "tools/fake_upstream/behaviour.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

namespace streamgate::test {
namespace {

using namespace std::chrono_literals;

// A provider with short deadlines, so timeout faults end quickly, yet each at least ten
// times the gaps of the streams that must pass, so a loaded machine cannot make them flaky.
void short_timeouts(http_provider_config& h) {
  h.timeouts.first_byte = 1000ms;
  h.timeouts.idle = 1000ms;
  h.timeouts.total = 3000ms;
  h.max_line_bytes = 64 << 10;
  // Well under the client's own buffer (http.max_pending_bytes, 1 MiB): an upstream burst
  // reaches the client faster than it reads, and this bound is the upstream's to hit.
  h.max_body_bytes = 256 << 10;
}

class upstream_faults : public ::testing::Test {
 protected:
  upstream_fixture f{
      {{"ok", "fake@chunks=4,chunk_size=6"},
       {"many", "fake@chunks=500,chunk_size=64"},
       {"slow-start", "fake@first_byte_ms=100,chunks=3"},
       {"paced", "fake@interval_ms=20,chunks=5"},
       {"no-first-byte", "fake@first_byte_ms=5000"},
       {"stall", "fake@stall_after=2,chunks=10,chunk_size=5"},
       {"too-slow", "fake@interval_ms=100,chunks=100"},
       {"rate-limited", "fake@status=429,retry_after=17"},
       {"server-error", "fake@status=500"},
       {"unavailable", "fake@status=503"},
       {"bad-request", "fake@status=400"},
       {"unknown-model", "fake@status=404"},
       {"drop-early", "fake@drop_after=0"},
       {"drop-late", "fake@drop_after=3,chunks=10,chunk_size=5"},
       {"malformed", "fake@malformed_after=2,chunks=5,chunk_size=5"},
       {"mid-error", "fake@error_after=2,chunks=5,chunk_size=5"},
       {"no-done", "fake@no_done=1,chunks=3,chunk_size=5"},
       {"cut", "fake@end_after=2,chunks=5,chunk_size=5"},
       {"bad-utf8", "fake@invalid_utf8=1,chunks=3,chunk_size=6"},
       {"long-line", "fake@huge_line=200000,chunks=4"},
       {"bad-tool-call", "fake@reasoning=2,bad_tool_call=1"},
       {"delta-not-object", "fake@chunks=4,delta_not_object=3"},
       {"huge-arguments", "fake@reasoning=1,tool_calls=1,fragments=1,pad_arguments=100000"},
       {"huge-body", "fake@chunks=3000,chunk_size=1000"},
       {"deep-error", "fake@status=400,nest=5000"},
       {"deep-mid-error", "fake@error_after=2,nest=20000,chunks=5,chunk_size=5"}},
      short_timeouts};

  // After any fault, the same server still answers a normal request in full.
  void expect_still_serving() {
    auto r = f.stream("ok");
    EXPECT_EQ(r.text, fake::full_text(4, 6))
        << r.status << " " << r.error_code << " " << r.error_message;
    EXPECT_EQ(r.terminal_events, 1);
    EXPECT_TRUE(r.done);
  }

  void expect_error(const client_outcome& r, unsigned status, std::string_view code) {
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.error_code, code) << r.error_message;
    EXPECT_EQ(r.terminal_events, 1);
    EXPECT_FALSE(r.done);
    EXPECT_TRUE(f.settled());
    expect_still_serving();
  }
};

TEST_F(upstream_faults, many_chunks_arrive_complete_and_in_order) {
  auto r = f.stream("many");
  EXPECT_EQ(r.text, fake::full_text(500, 64));
  EXPECT_EQ(r.terminal_events, 1);
  EXPECT_TRUE(r.done);
}

TEST_F(upstream_faults, first_byte_delay_within_the_deadline_is_transparent) {
  auto r = f.stream("slow-start");
  EXPECT_EQ(r.text, fake::full_text(3, 8));
  EXPECT_TRUE(r.done);
}

TEST_F(upstream_faults, paced_chunks_within_the_idle_deadline_are_transparent) {
  auto r = f.stream("paced");
  EXPECT_EQ(r.text, fake::full_text(5, 8));
  EXPECT_TRUE(r.done);
}

TEST_F(upstream_faults, no_first_byte_in_time) {
  expect_error(f.stream("no-first-byte"), 504, error_code::upstream_first_byte_timeout);
}

TEST_F(upstream_faults, a_stall_after_the_first_tokens_is_an_idle_timeout) {
  auto r = f.stream("stall");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.text, fake::full_text(2, 5));  // the partial answer was delivered
  expect_error(r, 200, error_code::upstream_idle_timeout);
  // Our deadline closed the upstream socket: the fake saw the client go.
  EXPECT_TRUE(eventually([&] { return f.upstream().counters().client_aborts.load() == 1; }));
}

TEST_F(upstream_faults, a_stream_longer_than_the_total_deadline) {
  auto r = f.stream("too-slow");
  EXPECT_FALSE(r.text.empty());
  expect_error(r, 200, error_code::upstream_request_timeout);
}

TEST_F(upstream_faults, rate_limit_passes_retry_after_on) {
  auto r = f.stream("rate-limited");
  EXPECT_EQ(r.retry_after, "17");
  expect_error(r, 429, error_code::upstream_rate_limited);
}

TEST_F(upstream_faults, server_errors) {
  expect_error(f.stream("server-error"), 502, error_code::upstream_server_error);
  expect_error(f.stream("unavailable"), 502, error_code::upstream_server_error);
}

TEST_F(upstream_faults, bad_request_passes_the_provider_message_through) {
  auto r = f.stream("bad-request");
  EXPECT_EQ(r.error_message, "fake status 400");
  expect_error(r, 400, error_code::upstream_bad_request);
}

TEST_F(upstream_faults, deeply_nested_error_objects_end_with_their_documented_codes) {
  auto r = f.stream("deep-error");
  EXPECT_NE(r.error_message.find("levels deep"), std::string::npos) << r.error_message;
  expect_error(r, 400, error_code::upstream_bad_request);
  // A chunk nested past max_chunk_depth is refused whole, error object or not.
  r = f.stream("deep-mid-error");
  EXPECT_EQ(r.text, fake::full_text(2, 5));
  EXPECT_NE(r.error_message.find("deeper than 64 levels"), std::string::npos) << r.error_message;
  expect_error(r, 200, error_code::upstream_malformed);
}

TEST_F(upstream_faults, unknown_model_upstream) {
  expect_error(f.stream("unknown-model"), 404, error_code::upstream_model_not_found);
}

TEST_F(upstream_faults, connection_dropped_before_the_first_token) {
  expect_error(f.stream("drop-early"), 502, error_code::upstream_interrupted);
}

TEST_F(upstream_faults, connection_dropped_after_tokens_keeps_the_partial_answer) {
  auto r = f.stream("drop-late");
  EXPECT_EQ(r.text, fake::full_text(3, 5));
  expect_error(r, 200, error_code::upstream_interrupted);
}

TEST_F(upstream_faults, malformed_sse) {
  auto r = f.stream("malformed");
  EXPECT_EQ(r.text, fake::full_text(2, 5));
  expect_error(r, 200, error_code::upstream_malformed);
}

TEST_F(upstream_faults, error_object_mid_stream) {
  auto r = f.stream("mid-error");
  EXPECT_EQ(r.text, fake::full_text(2, 5));
  EXPECT_EQ(r.error_message, "fake mid-stream failure");
  expect_error(r, 200, error_code::upstream_error);
}

TEST_F(upstream_faults, finish_reason_without_done_is_a_clean_finish) {
  auto r = f.stream("no-done");
  EXPECT_EQ(r.text, fake::full_text(3, 5));
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.terminal_events, 1);
  EXPECT_TRUE(r.done);
}

TEST_F(upstream_faults, a_clean_end_without_finish_or_done_is_an_interruption) {
  auto r = f.stream("cut");
  EXPECT_EQ(r.text, fake::full_text(2, 5));
  expect_error(r, 200, error_code::upstream_interrupted);
}

TEST_F(upstream_faults, invalid_utf8_is_replaced_not_forwarded) {
  auto r = f.stream("bad-utf8");
  std::string want;
  for (std::uint32_t i = 0; i < 3; ++i) {
    auto t = fake::chunk_text(i, 6);
    t.replace(t.size() - 2, 1, "\xEF\xBF\xBD");
    want += t;
  }
  EXPECT_EQ(r.text, want);
  EXPECT_TRUE(r.done);
}

TEST_F(upstream_faults, an_absurdly_long_line_is_bounded) {
  auto r = f.stream("long-line");
  expect_error(r, 200, error_code::upstream_too_large);
}

// Bad tool-call input from a provider ends the stream with a code that says so: never a crash,
// never a tool call passed on half-checked, never an argument string cut short.
TEST_F(upstream_faults, a_malformed_tool_call_or_delta_ends_with_upstream_malformed) {
  auto r = f.stream("bad-tool-call");
  EXPECT_NE(r.error_message.find("tool_calls that is not an array"), std::string::npos)
      << r.error_message;
  expect_error(r, 200, error_code::upstream_malformed);
  r = f.stream("delta-not-object");
  EXPECT_NE(r.error_message.find("a delta that is not an object"), std::string::npos)
      << r.error_message;
  expect_error(r, 200, error_code::upstream_malformed);
  expect_still_serving();
}

TEST_F(upstream_faults, tool_call_arguments_past_the_line_bound_end_with_upstream_too_large) {
  auto r = f.stream("huge-arguments");
  expect_error(r, 200, error_code::upstream_too_large);
}

TEST_F(upstream_faults, a_body_over_the_limit_is_bounded) {
  auto r = f.stream("huge-body");
  EXPECT_LT(r.text.size(), 1u << 20);
  expect_error(r, 200, error_code::upstream_too_large);
}

TEST(upstream_connect, refused_connection) {
  auto dead_port = unused_loopback_port();  // nothing listens there
  upstream_fixture f{{{"ok", "fake"}}, [&](http_provider_config& h) {
                       h.base_url = "http://127.0.0.1:" + std::to_string(dead_port) + "/v1";
                     }};
  auto r = f.stream("ok");
  EXPECT_EQ(r.status, 502u);
  EXPECT_EQ(r.error_code, error_code::upstream_connect_failed) << r.error_message;
  EXPECT_EQ(r.terminal_events, 1);
  EXPECT_TRUE(f.settled());
}

// A listening socket whose accept queue is full: the kernel drops further SYNs, so a
// connect to it hangs until the client's own connect timeout, all on loopback.
class unresponsive_listener {
 public:
  unresponsive_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    for (int i = 0; i < 3; ++i) {
      int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
      fillers_.push_back(c);
    }
  }
  ~unresponsive_listener() {
    for (int c : fillers_) ::close(c);
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<int> fillers_;
};

TEST(upstream_connect, connect_timeout) {
  unresponsive_listener blackhole;
  upstream_fixture f{{{"ok", "fake"}}, [&](http_provider_config& h) {
                       h.base_url = "http://127.0.0.1:" + std::to_string(blackhole.port()) + "/v1";
                       h.timeouts.connect = 200ms;
                     }};
  auto r = f.stream("ok");
  EXPECT_EQ(r.status, 504u);
  EXPECT_EQ(r.error_code, error_code::upstream_connect_timeout) << r.error_message;
  EXPECT_EQ(r.terminal_events, 1);
  EXPECT_TRUE(f.settled());
}

TEST(upstream_connect, sequential_streams_reuse_one_connection) {
  upstream_fixture f{{{"ok", "fake@chunks=3"}}};
  for (int i = 0; i < 3; ++i) {
    auto r = f.stream("ok");
    EXPECT_EQ(r.text, fake::full_text(3, 8));
    EXPECT_TRUE(r.done);
  }
  // The fake counts a stream once its last write is done, which may be after we read it.
  EXPECT_TRUE(eventually([&] { return f.upstream().counters().streams_completed.load() == 3u; }));
  EXPECT_EQ(f.upstream().counters().peak_open_connections.load(), 1);
}

// Before the first token, a failing provider is replaced by the next one: the client only
// sees the answer (and the fake saw both attempts).
TEST(upstream_failover, a_failure_before_the_first_token_is_transparent) {
  upstream_fixture f{{{"m", "fake@status=503"}}, {}, [](gateway_config& g) {
                       auto second = g.providers[0];
                       second.name = "second";
                       second.http.name = "second";
                       second.http.models["m"] = "fake@chunks=5,chunk_size=6";
                       g.providers.push_back(second);
                       g.sessions.max_attempts = 2;
                     }};
  auto r = f.stream("m");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.text, fake::full_text(5, 6));
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.terminal_events, 1);
  EXPECT_EQ(f.upstream().counters().requests_total.load(), 2u);
}

// The legacy adapter, pointed at the path where the fake serves Zhipu's older API.
void legacy_adapter(http_provider_config& h) {
  h.adapter = adapter_kind::zhipu_legacy;
  h.base_url.resize(h.base_url.size() - 3);  // drop "/v1"
  h.base_url += "/api/paas/v3/model-api";
  h.api_key = secret{"someid.somesecret"};
}

TEST(upstream_zhipu_legacy, streams_through_the_legacy_adapter) {
  upstream_fixture f{{{"glm-old", "chatglm_turbo@chunks=6,chunk_size=7"}}, legacy_adapter};
  auto r = f.stream("glm-old");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.text, fake::full_text(6, 7));
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.terminal_events, 1);
}

TEST(upstream_zhipu_legacy, its_error_event_ends_the_stream) {
  upstream_fixture f{{{"glm-old", "chatglm_turbo@chunks=6,chunk_size=7,error_after=2"}},
                     legacy_adapter};
  auto r = f.stream("glm-old");
  EXPECT_EQ(r.text, fake::full_text(2, 7));
  EXPECT_EQ(r.error_code, error_code::upstream_error);
  EXPECT_EQ(r.error_message, "fake mid-stream failure");
  EXPECT_EQ(r.terminal_events, 1);
}

}  // namespace
}  // namespace streamgate::test
