// End to end: a client streams over SSE from streamgate, whose HTTP provider streams from the
// fake upstream over real loopback HTTP.

#include "tests/integration/upstream_fixture.hpp"
#include "tools/fake_upstream/behaviour.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace streamgate::test {
namespace {

TEST(upstream_stream, streams_the_upstream_answer_end_to_end) {
  upstream_fixture f{{{"fake", "fake@chunks=20,chunk_size=12"}}};
  auto r = f.stream("fake");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.text, fake::full_text(20, 12));
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.terminal_events, 1);
  EXPECT_TRUE(f.settled());
  auto stats = f.upstream_stats();
  EXPECT_EQ(stats["streams_completed"], 1);
  EXPECT_EQ(stats["client_aborts"], 0);
}

// Thirty overlapping streams through the curl driver, wherever it runs.
void expect_concurrent_streams_complete(driver_placement driver) {
  upstream_fixture f{{{"paced", "fake@chunks=20,chunk_size=10,interval_ms=5"}}, {}, {}, driver};
  constexpr int clients = 30;
  std::vector<client_outcome> results(clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] { results[i] = f.stream("paced"); });
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    EXPECT_EQ(r.text, fake::full_text(20, 10));
    EXPECT_EQ(r.terminal_events, 1);
    EXPECT_TRUE(r.done);
  }
  auto& c = f.upstream().counters();
  // The fake counts a stream once its last write is done, which may be after we read it.
  EXPECT_TRUE(eventually([&] { return c.streams_completed.load() == std::uint64_t{clients}; }));
  EXPECT_GT(c.peak_active_streams.load(), 1);  // they really overlapped
  EXPECT_TRUE(f.settled());
}

TEST(upstream_stream, concurrent_streams_share_the_one_driver_thread) {
  expect_concurrent_streams_complete(driver_placement::own_thread);
}

TEST(upstream_stream, concurrent_streams_share_the_server_io_threads) {
  expect_concurrent_streams_complete(driver_placement::io_threads);
}

TEST(upstream_stream, concurrent_streams_spread_over_two_driver_threads) {
  expect_concurrent_streams_complete(driver_placement::two_threads);
}

TEST(upstream_stream, concurrent_streams_run_on_their_clients_io_loops) {
  expect_concurrent_streams_complete(driver_placement::two_io_loops);
}

// The gateway shuts down in the middle of streams: it returns, and every upstream connection
// it had is closed (the fake upstream counts them), wherever the curl driver ran.
void expect_shutdown_closes_every_upstream(driver_placement driver) {
  upstream_fixture f{{{"endless", "fake@chunks=100000,interval_ms=20"}}, {}, {}, driver};
  std::vector<std::unique_ptr<http_client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<http_client>(f.port()));
    auto head = clients.back()->open_stream("POST", "/v1/chat/completions",
                                            upstream_fixture::chat_body("endless"));
    ASSERT_EQ(head.status, 200u);
    ASSERT_TRUE(clients.back()->next_event());
  }
  EXPECT_EQ(f.upstream().counters().active_streams.load(), 3);
  f.stop_server();
  EXPECT_TRUE(eventually([&] { return f.upstream().counters().open_connections.load() == 0; }));
  EXPECT_EQ(f.upstream().counters().client_aborts.load(), 3u);
}

TEST(upstream_stream, a_shutdown_mid_stream_closes_every_upstream_of_the_driver_thread) {
  expect_shutdown_closes_every_upstream(driver_placement::own_thread);
}

TEST(upstream_stream, a_shutdown_mid_stream_closes_every_upstream_of_the_io_threads) {
  expect_shutdown_closes_every_upstream(driver_placement::io_threads);
}

TEST(upstream_stream, a_shutdown_mid_stream_closes_every_upstream_of_two_driver_threads) {
  expect_shutdown_closes_every_upstream(driver_placement::two_threads);
}

TEST(upstream_stream, a_shutdown_mid_stream_closes_every_upstream_of_two_io_loops) {
  expect_shutdown_closes_every_upstream(driver_placement::two_io_loops);
}

TEST(upstream_stream, usage_reaches_a_client_that_asked_for_it) {
  upstream_fixture f{{{"fake", "fake@chunks=4"}}};
  http_client c{f.port()};
  auto reply = c.request("POST", "/v1/chat/completions",
                         R"({"model":"fake","stream":true,"stream_options":{"include_usage":true},
                             "messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(reply.status, 200u);
  // The fake reports 4 completion tokens; the gateway passes the provider's figures on.
  EXPECT_NE(reply.body.find(R"("completion_tokens":4)"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("data: [DONE]"), std::string::npos);
}

TEST(upstream_stream, a_non_streaming_request_gets_the_whole_answer) {
  upstream_fixture f{{{"fake", "fake@chunks=6,chunk_size=5"}}};
  http_client c{f.port()};
  auto reply = c.request("POST", "/v1/chat/completions",
                         R"({"model":"fake","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(reply.status, 200u);
  auto j = nlohmann::json::parse(reply.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << reply.body;
  EXPECT_EQ(j["choices"][0]["message"]["content"], fake::full_text(6, 5));
  EXPECT_EQ(j["usage"]["completion_tokens"], 6);
}

}  // namespace
}  // namespace streamgate::test
