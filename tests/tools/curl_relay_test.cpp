// curl-relay, the libcurl floor make bench measures against: it must relay the fake
// upstream's stream chunk by chunk, refuse what it cannot relay, and let go of the upstream
// when its client goes, or its figures would not be those of a working gateway.

#include "tools/curl_relay/curl_relay.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"
#include "tests/tools/paced_upstream.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace streamgate::relay {
namespace {

const std::string chat =
    R"({"model":"fake","stream":true,"messages":[{"role":"user","content":"hi"}]})";

// The relay in front of a paced fake upstream.
struct relay_fixture {
  explicit relay_fixture(std::uint32_t chunks, std::uint32_t interval_ms = 0)
      : paced{chunks, interval_ms}, upstream{paced.server} {
    relay_options ro;
    ro.upstream = paced.url;
    relay = std::make_unique<curl_relay>(ro);
    relay->start();
  }
  test::paced_upstream paced;
  fake::fake_server& upstream;
  std::unique_ptr<curl_relay> relay;
};

TEST(curl_relay, relays_every_chunk_of_the_stream) {
  relay_fixture f{8};
  for (int round = 0; round < 3; ++round) {  // easy handles and connections are reused
    test::http_client c{f.relay->port()};
    auto head = c.open_stream("POST", "/v1/chat/completions", chat);
    EXPECT_EQ(head.status, 200u);
    EXPECT_EQ(head.header("content-type"), "text/event-stream");
    std::string content;
    int events = 0;
    bool done = false;
    while (auto ev = c.next_event()) {
      ++events;
      if (ev->data == "[DONE]") {
        done = true;
        continue;
      }
      auto j = nlohmann::json::parse(ev->data);
      auto& delta = j["choices"][0]["delta"];
      if (delta.contains("content")) content += delta["content"].get<std::string>();
    }
    EXPECT_TRUE(done);
    EXPECT_GE(events, 9);  // 8 content chunks, the finish and [DONE] at least
    EXPECT_FALSE(content.empty());
  }
  EXPECT_TRUE(test::eventually([&] { return f.upstream.counters().streams_completed == 3u; }));
  EXPECT_EQ(f.upstream.counters().peak_open_connections.load(), 1);
}

// HTTP/1.1 keep-alive, as nginx in front of the same upstream: loadgen --keep-alive sends its
// next request on the connection once the chunked body has ended.
TEST(curl_relay, answers_sequential_requests_on_one_connection) {
  relay_fixture f{4};
  test::http_client c{f.relay->port()};
  for (int round = 0; round < 3; ++round) {
    auto head = c.open_stream("POST", "/v1/chat/completions", chat);
    ASSERT_EQ(head.status, 200u) << round;
    EXPECT_EQ(head.header("connection"), "");
    bool done = false;
    while (auto ev = c.next_event()) done = done || ev->data == "[DONE]";
    EXPECT_TRUE(done) << round;
  }
  EXPECT_TRUE(test::eventually([&] { return f.upstream.counters().streams_completed == 3u; }));
  // A client that asks to close is answered, then closed.
  auto head = c.open_stream("POST", "/v1/chat/completions", chat, {{"Connection", "close"}});
  EXPECT_EQ(head.header("connection"), "close");
  while (c.next_event()) {
  }
  EXPECT_TRUE(test::eventually([&] { return c.peer_closed(); }));
}

TEST(curl_relay, refuses_what_it_cannot_relay) {
  relay_fixture f{1};
  auto refused = [&](const std::string& raw, const std::string& why) {
    test::http_client c{f.relay->port()};
    c.send_raw(raw);
    auto r = c.read_reply();
    EXPECT_EQ(r.status, 400u) << raw;
    EXPECT_NE(r.body.find(why), std::string::npos) << r.body;
  };
  refused("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", "expected POST");
  refused("NOT HTTP AT ALL\r\n\r\n", "bad request");
  refused("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
          "body limit");
  EXPECT_EQ(f.upstream.counters().requests_total.load(), 0u);
}

TEST(curl_relay, answers_502_when_the_upstream_is_gone) {
  relay_options ro;
  ro.upstream = "http://127.0.0.1:1";  // nothing listens on port 1
  curl_relay relay{ro};
  relay.start();
  test::http_client c{relay.port()};
  auto r = c.request("POST", "/v1/chat/completions", chat);
  EXPECT_EQ(r.status, 502u);
}

TEST(curl_relay, closes_the_upstream_when_its_client_goes) {
  relay_fixture f{100000, 1};
  test::http_client c{f.relay->port()};
  auto head = c.open_stream("POST", "/v1/chat/completions", chat);
  ASSERT_EQ(head.status, 200u);
  ASSERT_TRUE(c.next_event().has_value());
  c.close();
  EXPECT_TRUE(test::eventually([&] { return f.upstream.counters().client_aborts == 1u; }));
  EXPECT_TRUE(test::eventually([&] { return f.upstream.counters().active_streams == 0; }));
}

}  // namespace
}  // namespace streamgate::relay
