// GET /metrics scraped from the real server while requests stream, fail and are cancelled:
// each metric must move. Counters are process-wide, so every check is a difference between
// two scrapes.

#include "providers/mock_provider.hpp"
#include "tests/integration/upstream_fixture.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <sstream>

namespace streamgate::test {
namespace {

using json = nlohmann::json;
using samples = std::map<std::string, double>;  // series (name{labels}) → value

samples scrape(std::uint16_t port) {
  http_client c{port};
  auto r = c.request("GET", "/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.header("content-type").rfind("text/plain; version=0.0.4", 0), 0u);
  samples out;
  std::istringstream in{r.body};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

double at(const samples& s, const std::string& series) {
  auto it = s.find(series);
  return it == s.end() ? 0 : it->second;
}

// Scrapes until `done(samples)` holds (bounded); returns the last scrape.
template <class Pred>
samples scrape_until(std::uint16_t port, Pred done) {
  samples s;
  EXPECT_TRUE(eventually([&] {
    s = scrape(port);
    return done(s);
  }));
  return s;
}

const std::string sse_ok =
    R"(streamgate_session_requests_total{transport="sse",model="mock",outcome="ok"})";
const std::string sse_cancelled =
    R"(streamgate_session_requests_total{transport="sse",model="mock",outcome="cancelled"})";
const std::string ttft_count =
    R"(streamgate_session_ttft_seconds_count{transport="sse",model="mock"})";
const std::string gap_count =
    R"(streamgate_session_chunk_gap_seconds_count{transport="sse",model="mock"})";
const std::string duration_count =
    R"(streamgate_session_duration_seconds_count{transport="sse",model="mock"})";
const std::string bytes = R"(streamgate_session_bytes_total{transport="sse",model="mock"})";
const std::string clients = R"(streamgate_session_clients{transport="sse"})";
const std::string attempts_ok =
    R"(streamgate_upstream_attempts_total{provider="mock",outcome="ok"})";
const std::string attempts_cancelled =
    R"(streamgate_upstream_attempts_total{provider="mock",outcome="cancelled"})";
const std::string cancel_count =
    R"(streamgate_session_cancel_latency_seconds_count{provider="mock"})";

void drain(http_client& c) {
  while (c.next_event()) {
  }
}

TEST(metrics_endpoint, lists_every_family_with_help_and_type) {
  test_server server;
  http_client c{server.port()};
  auto body = c.request("GET", "/metrics").body;
  for (auto* name :
       {"streamgate_session_requests_total counter", "streamgate_session_ttft_seconds histogram",
        "streamgate_session_duration_seconds histogram", "streamgate_session_bytes_total counter",
        "streamgate_session_clients gauge", "streamgate_session_cancel_latency_seconds histogram",
        "streamgate_session_active gauge", "streamgate_upstream_active gauge",
        "streamgate_upstream_attempts_total counter", "streamgate_limits_rejected_total counter",
        "streamgate_provider_restarts_total counter", "streamgate_http_connections_open gauge",
        "streamgate_client_dropped_total counter"}) {
    EXPECT_NE(body.find(std::string{"# TYPE "} + name + "\n"), std::string::npos) << name;
  }
}

TEST(metrics_endpoint, a_streamed_request_moves_counters_gauges_and_histograms) {
  test_server server;
  auto before = scrape(server.port());

  http_client c{server.port()};
  auto head = c.open_stream("POST", "/v1/chat/completions", mock_body(true, 5, 30));
  ASSERT_EQ(head.status, 200u);
  ASSERT_TRUE(c.next_event().has_value());  // the first delta is out: the stream is live
  auto during = scrape(server.port());
  EXPECT_EQ(at(during, "streamgate_session_active"), 1);
  EXPECT_EQ(at(during, "streamgate_upstream_active"), 1);
  EXPECT_EQ(at(during, "streamgate_http_streams_active"), 1);
  EXPECT_EQ(at(during, clients) - at(before, clients), 1);
  EXPECT_EQ(at(during, ttft_count) - at(before, ttft_count), 1);
  EXPECT_EQ(at(during, sse_ok) - at(before, sse_ok), 0);

  drain(c);
  auto after = scrape_until(
      server.port(), [&](const samples& s) { return at(s, sse_ok) - at(before, sse_ok) == 1; });
  EXPECT_EQ(at(after, "streamgate_session_active"), 0);
  EXPECT_EQ(at(after, clients) - at(before, clients), 0);
  EXPECT_EQ(at(after, duration_count) - at(before, duration_count), 1);
  EXPECT_EQ(at(after, gap_count) - at(before, gap_count), 4);  // 5 deltas, 4 gaps
  EXPECT_EQ(at(after, bytes) - at(before, bytes), mock_text(5).size());
  EXPECT_EQ(at(after, attempts_ok) - at(before, attempts_ok), 1);
  // The gaps were paced 30 ms apart: they are counted above the 25 ms bucket.
  auto le25 =
      R"(streamgate_session_chunk_gap_seconds_bucket{transport="sse",model="mock",le="0.025"})";
  EXPECT_EQ(at(after, le25) - at(before, le25), 0);
}

TEST(metrics_endpoint, a_cancelled_stream_counts_its_outcome_and_cancel_latency) {
  test_server server;
  auto before = scrape(server.port());
  {
    http_client c{server.port()};
    c.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000, 5));
    ASSERT_TRUE(c.next_event().has_value());
    c.close();  // a disconnect is a cancel for /v1/chat/completions
  }
  // The session counts its outcome and the upstream its cancel latency on their own actor
  // threads, and the generator leaves the active gauge when it has processed the cancel:
  // wait until all of them have moved, then check that each moved exactly once.
  auto after = scrape_until(server.port(), [&](const samples& s) {
    return at(s, cancel_count) - at(before, cancel_count) >= 1 &&
           at(s, sse_cancelled) - at(before, sse_cancelled) >= 1 &&
           at(s, attempts_cancelled) - at(before, attempts_cancelled) >= 1 &&
           at(s, "streamgate_upstream_active") == 0;
  });
  EXPECT_EQ(at(after, cancel_count) - at(before, cancel_count), 1);
  EXPECT_EQ(at(after, sse_cancelled) - at(before, sse_cancelled), 1);
  EXPECT_EQ(at(after, attempts_cancelled) - at(before, attempts_cancelled), 1);
  EXPECT_EQ(at(after, "streamgate_upstream_active"), 0);
  EXPECT_GT(at(after, R"(streamgate_session_cancel_latency_seconds_sum{provider="mock"})"),
            at(before, R"(streamgate_session_cancel_latency_seconds_sum{provider="mock"})"));

  // An explicit cancel of a long-poll session is counted under its transport.
  http_client c{server.port()};
  auto created = c.request("POST", "/v1/sessions", mock_body(true, 100000, 5));
  ASSERT_EQ(created.status, 201u);
  auto id = json::parse(created.body)["session"].get<std::string>();
  ASSERT_TRUE(eventually([&] {
    return json::parse(c.request("GET", "/v1/sessions/" + id + "/events?after=0&wait_ms=0")
                           .body)["last_seq"] > 0;
  }));
  ASSERT_EQ(c.request("POST", "/v1/sessions/" + id + "/cancel").status, 200u);
  auto poll_cancelled =
      R"(streamgate_session_requests_total{transport="poll",model="mock",outcome="cancelled"})";
  after = scrape_until(server.port(), [&](const samples& s) {
    return at(s, poll_cancelled) - at(before, poll_cancelled) == 1 &&
           at(s, cancel_count) - at(before, cancel_count) == 2;
  });
}

TEST(metrics_endpoint, a_failed_stream_and_a_provider_restart_are_counted) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.restarts.backoff_initial = std::chrono::milliseconds(10);
  auto opts = test_server::default_options();
  opts.admin = true;
  test_server server{cfg, opts};
  auto before = scrape(server.port());

  http_client streaming{server.port()};
  streaming.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000, 5));
  ASSERT_TRUE(streaming.next_event().has_value());
  http_client admin{server.port()};
  ASSERT_EQ(admin.request("POST", "/admin/providers/mock/crash").status, 202u);
  drain(streaming);

  auto failed =
      R"(streamgate_session_requests_total{transport="sse",model="mock",outcome="upstream_interrupted"})";
  auto attempt_failed =
      R"(streamgate_upstream_attempts_total{provider="mock",outcome="upstream_interrupted"})";
  auto restarts = R"(streamgate_provider_restarts_total{provider="mock"})";
  auto crashes = R"(streamgate_provider_crashes_total{provider="mock"})";
  // The client's terminal event may reach it before its session has counted the outcome:
  // wait for both counts, as for the restart.
  auto after = scrape_until(server.port(), [&](const samples& s) {
    return at(s, restarts) - at(before, restarts) == 1 && at(s, failed) - at(before, failed) == 1;
  });
  EXPECT_EQ(at(after, failed) - at(before, failed), 1);
  EXPECT_EQ(at(after, attempt_failed) - at(before, attempt_failed), 1);
  EXPECT_EQ(at(after, crashes) - at(before, crashes), 1);
}

TEST(metrics_endpoint, a_request_over_the_session_limit_is_counted_as_rejected) {
  auto cfg = gateway_config::with_mock_provider();
  cfg.max_sessions = 1;
  test_server server{cfg};
  auto rejected = R"(streamgate_limits_rejected_total{limit="max_sessions"})";
  auto before = scrape(server.port());
  http_client holder{server.port()};
  holder.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000, 5));
  ASSERT_TRUE(holder.next_event().has_value());
  http_client c{server.port()};
  EXPECT_EQ(c.request("POST", "/v1/chat/completions", mock_body(true, 3)).status, 503u);
  auto after = scrape(server.port());
  EXPECT_EQ(at(after, rejected) - at(before, rejected), 1);
}

// The HTTP provider's own figures, against the fake upstream: time to first byte, gaps
// between chunks, attempts by outcome, and cancel → transfer removed in the curl driver.
TEST(metrics_endpoint, an_http_upstream_reports_ttfb_gaps_attempts_and_cancel_latency) {
  upstream_fixture f{{{"ok", "fake@chunks=4,interval_ms=2"},
                      {"endless", "fake@chunks=100000,interval_ms=5"},
                      {"broken", "fake@status=500"}}};
  auto port = f.port();
  auto series = [](const char* name, const std::string& labels) {
    return std::string{name} + "{" + labels + "}";
  };
  auto ttfb = series("streamgate_upstream_ttfb_seconds_count", R"(provider="fake")");
  auto gaps = series("streamgate_upstream_chunk_gap_seconds_count", R"(provider="fake")");
  auto cancel = series("streamgate_upstream_cancel_latency_seconds_count", R"(provider="fake")");
  auto ok = series("streamgate_upstream_attempts_total", R"(provider="fake",outcome="ok")");
  auto failed = series("streamgate_upstream_attempts_total",
                       R"(provider="fake",outcome="upstream_server_error")");
  auto before = scrape(port);

  auto out = f.stream("ok");
  ASSERT_TRUE(out.done) << out.error_code;
  auto after =
      scrape_until(port, [&](const samples& s) { return at(s, ok) - at(before, ok) == 1; });
  EXPECT_EQ(at(after, ttfb) - at(before, ttfb), 1);
  EXPECT_GE(at(after, gaps) - at(before, gaps), 1);

  EXPECT_EQ(f.stream("broken").error_code, "upstream_server_error");
  after =
      scrape_until(port, [&](const samples& s) { return at(s, failed) - at(before, failed) == 1; });

  {
    http_client c{port};
    c.open_stream("POST", "/v1/chat/completions", upstream_fixture::chat_body("endless"));
    ASSERT_TRUE(c.next_event().has_value());
    c.close();
  }
  after =
      scrape_until(port, [&](const samples& s) { return at(s, cancel) - at(before, cancel) == 1; });
  EXPECT_TRUE(f.settled());
}

// Failover, a breaker opening and a quota queue, with two mock providers: one that always
// fails, one with room for a single stream at a time.
TEST(metrics_endpoint, failovers_breakers_and_quota_queues_are_counted) {
  using namespace std::chrono_literals;
  auto provider = [](std::string name, std::string fail) {
    provider_entry p;
    p.name = name;
    p.models = {"m"};
    p.mock.first_token_ms = 0;
    p.mock.interval_ms = 5;
    p.mock.fail = std::move(fail);
    p.pool = name;
    return p;
  };
  gateway_config cfg;
  cfg.providers = {provider("mx_bad", "upstream_server_error"), provider("mx_good", "")};
  cfg.pools["mx_bad"].max_concurrent = 10;
  cfg.pools["mx_good"].max_concurrent = 1;
  cfg.pools["mx_good"].queue_timeout = 10s;
  cfg.routes["m"].targets = {{"mx_bad", 1}, {"mx_good", 1}};
  cfg.breaker.failure_threshold = 1;
  cfg.breaker.rate_window = 0;
  cfg.breaker.cooldown = 60s;
  test_server server{cfg};
  auto port = server.port();
  auto before = scrape(port);
  auto body = [](unsigned tokens) {
    return json{{"model", "m"},
                {"stream", true},
                {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                {"mock", {{"tokens", tokens}, {"interval_ms", 5}}}}
        .dump();
  };

  // The first request fails over from mx_bad (whose breaker opens) to mx_good and holds its
  // only lease; the second waits in mx_good's queue until the first ends.
  http_client first{port};
  first.open_stream("POST", "/v1/chat/completions", body(40));
  ASSERT_TRUE(first.next_event().has_value());
  // The breaker opens in the engine, which then tells the router: asynchronously. Until it
  // is open, a second request could still be routed to mx_bad and try it too.
  scrape_until(port, [&](const samples& s) {
    return at(s, R"(streamgate_breaker_state{provider="mx_bad"})") == 2;
  });
  // Sent raw: its response headers come only once it has a lease.
  http_client second{port};
  auto second_body = body(2);
  second.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(second_body.size()) + "\r\n\r\n" + second_body);
  auto queued = scrape_until(port, [&](const samples& s) {
    return at(s, R"(streamgate_quota_queue_length{pool="mx_good"})") == 1;
  });
  EXPECT_EQ(at(queued, R"(streamgate_quota_leases_in_use{pool="mx_good"})"), 1);
  EXPECT_EQ(at(queued, R"(streamgate_breaker_state{provider="mx_bad"})"), 2);
  EXPECT_EQ(at(queued, R"(streamgate_breaker_transitions_total{provider="mx_bad",to="open"})"), 1);
  EXPECT_EQ(at(queued, R"(streamgate_breaker_state{provider="mx_good"})"), 0);
  auto failovers = R"(streamgate_session_failovers_total{model="m"})";
  EXPECT_EQ(at(queued, failovers) - at(before, failovers), 1);
  auto bad =
      R"(streamgate_upstream_attempts_total{provider="mx_bad",outcome="upstream_server_error"})";
  EXPECT_EQ(at(queued, bad) - at(before, bad), 1);

  drain(first);
  EXPECT_EQ(second.read_reply().status, 200u);
  auto wait_count = R"(streamgate_quota_queue_wait_seconds_count{pool="mx_good"})";
  auto after = scrape_until(port, [&](const samples& s) {
    return at(s, wait_count) - at(before, wait_count) == 1 &&
           at(s, R"(streamgate_quota_leases_in_use{pool="mx_good"})") == 0;
  });
  EXPECT_EQ(at(after, R"(streamgate_quota_queue_length{pool="mx_good"})"), 0);
  auto good = R"(streamgate_upstream_attempts_total{provider="mx_good",outcome="ok"})";
  EXPECT_EQ(at(after, good) - at(before, good), 2);
}

// Clients the server cuts on its own: an SSE client that stops reading (slow consumer) and a
// WebSocket that answers no pings. Each is counted under its transport and reason.
TEST(metrics_endpoint, clients_dropped_for_slowness_or_silence_are_counted) {
  auto o = test_server::default_options();
  o.max_pending_bytes = 64 * 1024;
  o.ws_ping_timeout = std::chrono::milliseconds(200);
  o.ws_heartbeat = std::chrono::milliseconds(0);
  test_server server{gateway_config::with_mock_provider(), o};
  auto port = server.port();
  auto sse_slow = R"(streamgate_client_dropped_total{transport="sse",reason="slow_consumer"})";
  auto ws_silent = R"(streamgate_client_dropped_total{transport="ws",reason="ping_timeout"})";
  auto before = scrape(port);

  http_client slow{port};
  ASSERT_EQ(slow.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000)).status, 200u);
  // `slow` reads nothing more: the server's bounded buffer fills and it lets go.
  auto after = scrape_until(
      port, [&](const samples& s) { return at(s, sse_slow) - at(before, sse_slow) >= 1; });
  EXPECT_EQ(at(after, sse_slow) - at(before, sse_slow), 1);
  EXPECT_EQ(at(after, ws_silent) - at(before, ws_silent), 0);

  ws_client silent{port};
  silent.send({{"type", "start"}, {"id", "s"}, {"request", mock_request(30, 10)}});
  // `silent` never reads again, so it answers no protocol pings.
  after = scrape_until(
      port, [&](const samples& s) { return at(s, ws_silent) - at(before, ws_silent) >= 1; });
  EXPECT_EQ(at(after, ws_silent) - at(before, ws_silent), 1);
  EXPECT_EQ(at(after, sse_slow) - at(before, sse_slow), 1);
  EXPECT_EQ(server.server().slow_consumer_drops(), 1u);
  EXPECT_EQ(server.server().ws_ping_timeouts(), 1u);
}

}  // namespace
}  // namespace streamgate::test
