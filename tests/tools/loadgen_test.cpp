// loadgen: its option checks and statistics as functions, then the program itself against the
// fake upstream and the real server over SSE and long-poll, with and without cancels, on new
// connections and on kept ones (--keep-alive).

#include "tests/integration/upstream_fixture.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/test_server.hpp"
#include "tests/tools/paced_upstream.hpp"
#include "tools/curl_relay/curl_relay.hpp"
#include "tools/fake_upstream/fake_server.hpp"
#include "tools/loadgen/options.hpp"
#include "tools/loadgen/stream_client.hpp"
#include "tools/loadgen/summary.hpp"
#include "tools/loadgen/upstream_watch.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace streamgate::loadgen {
namespace {

using json = nlohmann::json;

options parse(std::vector<std::string> args) {
  return parse_options(args);
}

TEST(loadgen_options, parses_a_full_command_line) {
  auto o = parse({"--protocol", "poll", "--url", "http://127.0.0.1:8080/prefix/", "--model", "m",
                  "--concurrency", "10", "--requests", "20", "--cancel-after", "3",
                  "--upstream-stats", "http://localhost:9000", "--rate", "5.5"});
  EXPECT_EQ(o.proto, protocol::poll);
  EXPECT_EQ(o.target.host, "127.0.0.1");
  EXPECT_EQ(o.target.port, 8080);
  EXPECT_EQ(o.target.path, "/prefix");
  EXPECT_EQ(o.model, "m");
  EXPECT_EQ(o.concurrency, 10u);
  EXPECT_EQ(o.requests, 20u);
  EXPECT_EQ(o.cancel_after, 3u);
  EXPECT_EQ(o.upstream_stats->port, 9000);
  EXPECT_DOUBLE_EQ(o.rate, 5.5);
}

TEST(loadgen_options, parses_the_chaos_flags) {
  auto o = parse({"--url", "http://127.0.0.1:8080", "--disconnect-after", "2:9", "--expect-text",
                  "40:12", "--read-delay-ms", "5", "--resume-delay-ms", "100", "--max-resumes", "3",
                  "--seed", "7"});
  EXPECT_TRUE(o.resume);  // implied by --disconnect-after
  EXPECT_EQ(o.disconnect_after, (std::pair<unsigned, unsigned>{2, 9}));
  EXPECT_EQ(o.expect_text, (std::pair<unsigned, unsigned>{40, 12}));
  EXPECT_DOUBLE_EQ(o.read_delay_ms, 5);
  EXPECT_DOUBLE_EQ(o.resume_delay_ms, 100);
  EXPECT_EQ(o.max_resumes, 3u);
  EXPECT_EQ(o.seed, 7u);
  EXPECT_EQ(parse({"--url", "http://127.0.0.1:1", "--disconnect-after", "4"}).disconnect_after,
            (std::pair<unsigned, unsigned>{4, 4}));
}

TEST(loadgen_options, keep_alive_is_a_closed_loop_flag) {
  EXPECT_FALSE(parse({"--url", "http://127.0.0.1:1"}).keep_alive);
  for (auto* proto : {"sse", "ws", "poll"}) {
    auto o = parse({"--url", "http://127.0.0.1:1", "--protocol", proto, "--keep-alive",
                    "--concurrency", "4", "--ramp-s", "1", "--cancel-after", "2"});
    EXPECT_TRUE(o.keep_alive) << proto;
  }
  EXPECT_NE(usage_text().find("--keep-alive"), std::string::npos);
  for (std::vector<std::string> extra : {std::vector<std::string>{"--rate", "5"},
                                         {"--resume"},
                                         {"--disconnect-after", "3"},
                                         {"--idle-connections", "10"}}) {
    std::vector<std::string> args{"--url", "http://127.0.0.1:1", "--keep-alive"};
    args.insert(args.end(), extra.begin(), extra.end());
    try {
      parse_options(args);
      ADD_FAILURE() << "accepted --keep-alive with " << extra[0];
    } catch (const usage_error& e) {
      EXPECT_NE(std::string{e.what()}.find("--keep-alive: only with --concurrency"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(loadgen_options, bad_input_gets_a_clear_error) {
  auto fails_with = [](std::vector<std::string> args, const std::string& text) {
    try {
      parse_options(args);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const usage_error& e) {
      EXPECT_NE(std::string{e.what()}.find(text), std::string::npos) << e.what();
    }
  };
  fails_with({}, "--url is required");
  fails_with({"--url", "http://127.0.0.1:1", "--disconnect-after", "9:2"}, "A <= B");
  fails_with({"--url", "http://127.0.0.1:1", "--expect-text", "40"}, "CHUNKS:SIZE");
  fails_with({"--url", "http://127.0.0.1:1", "--resume", "--cancel-after", "2"}, "not with");
  fails_with({"--url", "ftp://x:1"}, "expected http://");
  fails_with({"--url", "http://127.0.0.1"}, "port is required");
  fails_with({"--url", "http://127.0.0.1:0"}, "invalid port");
  fails_with({"--url", "http://127.0.0.1:70000"}, "invalid port");
  fails_with({"--url", "http://example.com:80"}, "numeric address");
  fails_with({"--url", "http://10.1.2.3:80"}, "only loopback");
  fails_with({"--url", "http://127.0.0.1:1", "--protocol", "grpc"}, "expected sse, ws or poll");
  fails_with({"--url", "http://127.0.0.1:1", "--rate", "5", "--ramp-s", "1"}, "only with");
  fails_with({"--url", "http://127.0.0.1:1", "--concurrency", "many"}, "expected a number");
  fails_with({"--url", "http://127.0.0.1:1", "--concurrency", "-1"}, "must be between");
  fails_with({"--url", "http://127.0.0.1:1", "--requests"}, "missing value");
  fails_with({"--url", "http://127.0.0.1:1", "--bogus"}, "unknown option");
  fails_with({"--url", "http://127.0.0.1:1", "--request-json", "[1]"}, "expected a JSON object");
  EXPECT_NO_THROW(parse({"--url", "http://10.1.2.3:80", "--allow-remote"}));
}

TEST(loadgen_stats, percentiles_use_the_nearest_rank) {
  std::vector<double> v;
  for (int i = 1000; i >= 1; --i) v.push_back(i);
  auto d = distribution_of(v);
  EXPECT_EQ(d.n, 1000u);
  EXPECT_DOUBLE_EQ(d.p50, 500);
  EXPECT_DOUBLE_EQ(d.p90, 900);
  EXPECT_DOUBLE_EQ(d.p99, 990);
  EXPECT_DOUBLE_EQ(d.p999, 999);
  EXPECT_DOUBLE_EQ(d.max, 1000);
  EXPECT_DOUBLE_EQ(d.mean, 500.5);
  EXPECT_EQ(distribution_of({}).n, 0u);
  EXPECT_DOUBLE_EQ(distribution_of({7}).p99, 7);
}

TEST(loadgen_stats, sse_payloads_are_classified_without_parsing_json) {
  EXPECT_TRUE(sse_has_content(R"({"choices":[{"delta":{"content":"Hi"}}]})"));
  EXPECT_FALSE(sse_has_content(R"({"choices":[{"delta":{"role":"assistant","content":""}}]})"));
  EXPECT_FALSE(sse_has_content(R"({"choices":[{"delta":{},"finish_reason":"stop"}]})"));
  EXPECT_EQ(sse_error_code(R"({"error":{"message":"x","code":"upstream_error"}})"),
            "upstream_error");
  EXPECT_EQ(sse_error_code(R"({"choices":[]})"), "");
}

TEST(loadgen_stats, closes_are_matched_to_cancels_in_order) {
  auto t0 = clock_type::now();
  auto at = [&](int ms) { return t0 + std::chrono::milliseconds(ms); };
  std::vector<std::pair<clock_type::time_point, std::uint64_t>> samples{
      {at(0), 10}, {at(3), 11}, {at(5), 13}};
  auto ms = match_closes({at(4), at(1), at(2)}, samples, 10);
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_NEAR(ms[0], 2, 1e-6);  // cancel at 1 → first close seen at 3
  EXPECT_NEAR(ms[1], 3, 1e-6);  // cancel at 2 → second close seen at 5
  EXPECT_NEAR(ms[2], 1, 1e-6);  // cancel at 4 → third close seen at 5
  EXPECT_EQ(match_closes({at(1), at(2)}, {{at(0), 10}}, 10).size(), 0u);
}

// Runs the loadgen program and returns its JSON summary.
json run_loadgen(std::vector<std::string> args, int expect_exit = 0) {
  char path[] = "/tmp/sg-loadgen-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  args.push_back("--json");
  args.push_back(path);
  test::child_process p{LOADGEN_BIN, args};
  EXPECT_EQ(p.wait(std::chrono::seconds(30)), expect_exit) << p.stderr_text();
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path);
  return json::parse(text.str(), nullptr, false);
}

using test::paced_upstream;

TEST(loadgen_program, streams_from_the_fake_upstream_and_measures_every_chunk) {
  paced_upstream up{8, 5};
  auto& upstream = up.server;
  auto& url = up.url;
  auto j = run_loadgen({"--url", url, "--model", "fake", "--concurrency", "4", "--requests", "12"});
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["ok"], 12);
  EXPECT_EQ(j["failed"], 0);
  EXPECT_EQ(j["ttft_ms"]["n"], 12);
  EXPECT_EQ(j["gap_ms"]["n"], 12 * 7);
  EXPECT_GE(j["gap_ms"]["p50"].get<double>(), 4.0);  // the stream is paced 5 ms apart
  EXPECT_LE(j["ttft_ms"]["p99"].get<double>(), j["ttft_ms"]["max"].get<double>());
  EXPECT_GT(j["cpu_s"].get<double>(), 0);
  EXPECT_TRUE(
      test::eventually([&] { return upstream.counters().streams_completed.load() == 12u; }));
}

TEST(loadgen_program, times_cancels_until_the_upstream_saw_the_close) {
  paced_upstream up{1000, 2};
  auto& upstream = up.server;
  auto& url = up.url;
  auto j = run_loadgen({"--url", url, "--model", "fake", "--concurrency", "5", "--requests", "10",
                        "--cancel-after", "3", "--upstream-stats", url});
  EXPECT_EQ(j["ok"], 10);
  EXPECT_EQ(j["cancel_upstream_ms"]["n"], 10);
  EXPECT_EQ(upstream.counters().client_aborts.load(), 10u);
}

TEST(loadgen_program, open_loop_starts_streams_at_the_given_rate) {
  paced_upstream up{2, 1};
  // 10 streams at 40/s: the last one starts 225 ms after the first, however fast they run.
  auto j = run_loadgen({"--url", up.url, "--model", "fake", "--rate", "40", "--requests", "10"});
  EXPECT_EQ(j["ok"], 10);
  EXPECT_GE(j["wall_s"].get<double>(), 0.225);
  EXPECT_DOUBLE_EQ(j["rate"].get<double>(), 40);
}

TEST(loadgen_program, a_ramp_spreads_the_first_streams_over_its_length) {
  paced_upstream up{2, 200};
  // 4 streams of ~400 ms started over 0.9 s: at 0, 225, 450 and 675 ms, so two run at once;
  // without the ramp all four would. The margin (a stream may start up to ~200 ms late on a
  // loaded machine and still not meet a fourth) keeps this from depending on timing.
  auto j = run_loadgen({"--url", up.url, "--model", "fake", "--concurrency", "4", "--ramp-s", "0.9",
                        "--requests", "4"});
  EXPECT_EQ(j["ok"], 4);
  // The fake counts a stream once its last write is done, which may be after loadgen read it.
  EXPECT_TRUE(
      test::eventually([&] { return up.server.counters().streams_completed.load() == 4u; }));
  EXPECT_LE(up.server.counters().peak_active_streams.load(), 3);
}

// Two clients, three streams each, every one on its client's first connection; the fake's own
// count of connections agrees.
TEST(loadgen_program, keep_alive_reuses_each_clients_connection) {
  paced_upstream up{8, 2};
  auto j = run_loadgen({"--url", up.url, "--model", "fake", "--concurrency", "2", "--requests", "6",
                        "--keep-alive"});
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["ok"], 6) << j.dump();
  EXPECT_EQ(j["failed"], 0);
  EXPECT_EQ(j["ttft_ms"]["n"], 6);
  EXPECT_EQ(j["gap_ms"]["n"], 6 * 7);
  EXPECT_EQ(j["connections_opened"], 2);
  EXPECT_LE(up.server.counters().peak_open_connections.load(), 2);
  EXPECT_TRUE(
      test::eventually([&] { return up.server.counters().streams_completed.load() == 6u; }));
  // Without the flag the summary is what it always was.
  auto fresh =
      run_loadgen({"--url", up.url, "--model", "fake", "--concurrency", "2", "--requests", "2"});
  EXPECT_EQ(fresh["ok"], 2);
  EXPECT_FALSE(fresh.contains("connections_opened"));
}

// A server that closes its connection after a response (curl-relay's 502 says
// `Connection: close`) gets a new one for the next stream, and each is counted.
TEST(loadgen_program, keep_alive_reopens_a_connection_the_server_closed) {
  relay::relay_options ro;
  ro.upstream = "http://127.0.0.1:1";  // nothing listens on port 1
  relay::curl_relay relay{ro};
  relay.start();
  auto url = "http://127.0.0.1:" + std::to_string(relay.port());
  auto j = run_loadgen({"--url", url, "--model", "fake", "--requests", "3", "--keep-alive"}, 3);
  EXPECT_EQ(j["errors"]["http 502"], 3) << j.dump();
  EXPECT_EQ(j["connections_opened"], 3);
}

TEST(loadgen_program, reports_failures_and_exits_non_zero) {
  fake::fake_server upstream{fake::server_options{}};
  upstream.start();
  auto url = "http://127.0.0.1:" + std::to_string(upstream.port());
  auto j = run_loadgen({"--url", url, "--model", "fake@status=503", "--requests", "3"}, 3);
  EXPECT_EQ(j["ok"], 0);
  EXPECT_EQ(j["failed"], 3);
  EXPECT_EQ(j["errors"]["http 503"], 3);
  // Nobody listening (port 1): a connection error per stream, still bounded and reported.
  auto k = run_loadgen({"--url", "http://127.0.0.1:1", "--requests", "2", "--timeout-s", "2"}, 3);
  EXPECT_EQ(k["failed"], 2);
}

// Six short mock streams, three at a time, against the in-process gateway at `url`. Runs
// that cancel after 2 tokens get 4 tokens that take long enough (0.8 s) for any cancel to
// land first, even in a sanitizer build.
std::vector<std::string> gateway_run(const std::string& protocol, const std::string& url,
                                     bool cancel = false) {
  std::vector<std::string> args{
      "--protocol",
      protocol,
      "--url",
      url,
      "--model",
      "mock",
      "--concurrency",
      "3",
      "--requests",
      "6",
      "--request-json",
      cancel ? R"({"mock":{"tokens":6,"interval_ms":200,"first_token_ms":1}})"
             : R"({"mock":{"tokens":6,"interval_ms":5,"first_token_ms":1}})"};
  if (cancel) args.insert(args.end(), {"--cancel-after", "2"});
  return args;
}

TEST(loadgen_program, drives_the_gateway_over_sse_and_long_poll_with_cancels) {
  test::test_server server;
  auto url = "http://127.0.0.1:" + std::to_string(server.port());
  auto sse = run_loadgen(gateway_run("sse", url));
  EXPECT_EQ(sse["ok"], 6);
  auto poll = run_loadgen(gateway_run("poll", url));
  EXPECT_EQ(poll["ok"], 6);
  EXPECT_GT(poll["ttft_ms"]["n"], 0);
  auto cancelled = run_loadgen(gateway_run("poll", url, true));
  EXPECT_EQ(cancelled["ok"], 6);
  EXPECT_EQ(cancelled["cancel_ack_ms"]["n"], 6);
}

TEST(loadgen_program, drives_the_gateway_over_websocket_with_cancels_and_idle_sockets) {
  test::test_server server;
  auto url = "http://127.0.0.1:" + std::to_string(server.port());
  auto ws = run_loadgen(gateway_run("ws", url));
  EXPECT_EQ(ws["ok"], 6) << ws.dump();
  EXPECT_EQ(ws["ttft_ms"]["n"], 6);
  EXPECT_EQ(ws["gap_ms"]["n"], 6 * 5);
  auto cancelled = run_loadgen(gateway_run("ws", url, true));
  EXPECT_EQ(cancelled["ok"], 6) << cancelled.dump();
  EXPECT_EQ(cancelled["cancel_ack_ms"]["n"], 6);

  auto idle = run_loadgen(
      {"--protocol", "ws", "--url", url, "--idle-connections", "50", "--hold-s", "0.2"});
  EXPECT_EQ(idle["open"], 50) << idle.dump();
  EXPECT_EQ(idle["failed"], 0);
}

// Against the gateway every transport keeps its connection: SSE and long-poll as HTTP/1.1
// keep-alive, WebSocket by starting the next stream on the same socket; with cancels too.
TEST(loadgen_program, keep_alive_drives_the_gateway_over_every_transport) {
  test::test_server server;
  auto url = "http://127.0.0.1:" + std::to_string(server.port());
  for (auto* proto : {"sse", "ws", "poll"}) {
    for (bool cancel : {false, true}) {
      auto args = gateway_run(proto, url, cancel);
      args.push_back("--keep-alive");
      auto j = run_loadgen(args);
      ASSERT_TRUE(j.is_object()) << proto;
      EXPECT_EQ(j["ok"], 6) << proto << " cancel " << cancel << ": " << j.dump();
      EXPECT_EQ(j["multiple_terminals"], 0) << proto;
      if (!cancel) {
        EXPECT_EQ(j["ttft_ms"]["n"], 6) << proto;
      }
      // Closing an SSE response is its cancel: that connection cannot be kept.
      if (cancel && std::string{proto} == "sse")
        EXPECT_EQ(j["connections_opened"], 6) << j.dump();
      else
        EXPECT_EQ(j["connections_opened"], 3) << proto << " cancel " << cancel << ": " << j.dump();
    }
  }
}

// The chaos clients (docs/chaos.md): every stream vanishes once at a random point, resumes on
// the same transport, and its text is still the fake upstream's whole answer.
TEST(loadgen_program, resumes_every_stream_with_identical_text_over_every_transport) {
  // The fixture's resume window (50 ms) is shorter than a resume may take here.
  test::upstream_fixture f{
      {{"chaos", "fake@chunks=30,chunk_size=12,interval_ms=5"}}, {}, [](gateway_config& g) {
        g.sessions.resume_window = std::chrono::seconds(10);
      }};
  auto url = "http://127.0.0.1:" + std::to_string(f.port());
  for (auto* proto : {"sse", "ws", "poll"}) {
    auto j = run_loadgen({"--protocol", proto, "--url", url, "--model", "chaos", "--concurrency",
                          "3", "--requests", "6", "--disconnect-after", "1:25", "--resume-delay-ms",
                          "50", "--expect-text", "30:12", "--seed", "3"});
    ASSERT_TRUE(j.is_object()) << proto;
    EXPECT_EQ(j["outcomes"], (json{{"done", 6}})) << proto << ": " << j.dump();
    EXPECT_EQ(j["resumed_streams"], 6) << proto;
    EXPECT_EQ(j["text_checked"], 6) << proto;
    EXPECT_EQ(j["text_mismatches"], 0) << proto << ": " << j["text_problems"];
    EXPECT_EQ(j["multiple_terminals"], 0) << proto;
    EXPECT_EQ(j["seq_errors"], 0) << proto;
  }
}

// A wrong text is caught, and an error ends a stream with its code as the outcome.
TEST(loadgen_program, reports_outcomes_by_code_and_text_mismatches) {
  test::upstream_fixture f{{{"short", "fake@chunks=3,chunk_size=12"},
                            {"broken", "fake@error_after=2,chunks=5,chunk_size=12"}}};
  auto url = "http://127.0.0.1:" + std::to_string(f.port());
  auto wrong =
      run_loadgen({"--url", url, "--model", "short", "--requests", "2", "--expect-text", "4:12"});
  EXPECT_EQ(wrong["outcomes"], (json{{"done", 2}}));
  EXPECT_EQ(wrong["text_mismatches"], 2);
  auto broken = run_loadgen({"--protocol", "ws", "--url", url, "--model", "broken", "--requests",
                             "2", "--expect-text", "5:12"},
                            3);
  EXPECT_EQ(broken["outcomes"], (json{{"upstream_error", 2}})) << broken.dump();
  EXPECT_EQ(broken["text_mismatches"], 0);  // the two chunks before the error are a prefix
  EXPECT_EQ(broken["multiple_terminals"], 0);
}

}  // namespace
}  // namespace streamgate::loadgen
