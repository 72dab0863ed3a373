// The server with two I/O loops (http.threads: 2): connections are spread over two threads,
// and a session's events reach a connection from threads other than its own (the mock
// provider's CAF workers), so orders that one thread never produces do happen. Many
// keep-alive clients long-poll and stream at once; every answer must arrive whole and none
// may hang.
//
// Regression: the peer watch of a streaming response peeked at its socket with a blocking
// receive. With two threads the reactor can report a readable edge whose bytes a read has
// already taken; the peek then waited for the client, which was waiting for the response
// (1 stream in ~200 hung until the client gave up). And a watch completing before its
// response's write handler started a second read of the next request.

#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

constexpr unsigned clients = 32;
constexpr unsigned tokens = 24;
// A hung request is noticed by the client's receive timeout, well before ctest's.
constexpr auto reply_bound = std::chrono::seconds(4);

http_options two_io_threads() {
  auto o = test_server::default_options();
  o.threads = 2;
  return o;
}

// One client's whole long-poll session over one keep-alive connection: the text it got, or
// what went wrong.
std::string poll_session(std::uint16_t port) {
  http_client c{port, reply_bound};
  auto created = c.request("POST", "/v1/sessions", mock_body(false, tokens, 1));
  if (created.status != 201) return "create: status " + std::to_string(created.status);
  auto session = json::parse(created.body)["session"].get<std::string>();
  std::string text;
  std::uint64_t after = 0;
  for (;;) {
    auto r = c.request("GET", "/v1/sessions/" + session + "/events?after=" + std::to_string(after) +
                                  "&wait_ms=3000");
    if (r.status != 200)
      return "poll after " + std::to_string(after) + ": status " + std::to_string(r.status);
    auto page = json::parse(r.body);
    for (auto& ev : page["events"])
      if (ev["type"] == "delta") text += ev["content"].get<std::string>();
    after = page["last_seq"].get<std::uint64_t>();
    if (page["done"].get<bool>()) return text;
  }
}

// Streams over SSE a few times on one keep-alive connection (the next request's read starts
// when the stream's response is sent), then asks for something else on it.
std::string sse_streams(std::uint16_t port) {
  http_client c{port, reply_bound};
  std::string text;
  for (int i = 0; i < 4; ++i) {
    auto head = c.open_stream("POST", "/v1/chat/completions", mock_body(true, tokens, 1));
    if (head.status != 200)
      return "stream " + std::to_string(i) + ": status " + std::to_string(head.status);
    text.clear();
    while (auto ev = c.next_event()) {
      auto chunk = json::parse(ev->data, nullptr, false);
      if (chunk.is_discarded() || !chunk.contains("choices")) continue;  // [DONE]
      auto& delta = chunk["choices"][0]["delta"];
      if (delta.contains("content")) text += delta["content"].get<std::string>();
    }
  }
  auto models = c.request("GET", "/v1/models");
  if (models.status != 200)
    return "models after the streams: status " + std::to_string(models.status);
  return text;
}

void run_clients(std::uint16_t port, std::string (*client)(std::uint16_t)) {
  std::vector<std::string> got(clients);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      try {
        got[i] = client(port);
      } catch (const std::exception& e) {  // a garbled response, say
        got[i] = std::string{"exception: "} + e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (unsigned i = 0; i < clients; ++i) EXPECT_EQ(got[i], mock_text(tokens)) << "client " << i;
}

TEST(two_io_threads, every_long_poll_is_answered) {
  test_server server{gateway_config::with_mock_provider(), two_io_threads()};
  for (int round = 0; round < 3; ++round) run_clients(server.port(), poll_session);
  EXPECT_TRUE(eventually([&] { return server.server().streaming_connections() == 0; }));
}

TEST(two_io_threads, every_sse_stream_ends_and_its_connection_reads_on) {
  test_server server{gateway_config::with_mock_provider(), two_io_threads()};
  for (int round = 0; round < 3; ++round) run_clients(server.port(), sse_streams);
  EXPECT_TRUE(eventually([&] { return server.server().streaming_connections() == 0; }));
}

}  // namespace
}  // namespace streamgate::test
