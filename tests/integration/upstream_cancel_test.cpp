// Cancellation reaches the upstream socket: a client's cancel or disconnect ends the
// session, the session cancels its upstream_stream, the driver removes the transfer, and the
// fake upstream sees its client go away (GET /stats).

#include "actors/error_code.hpp"
#include "tests/integration/upstream_fixture.hpp"
#include "tools/fake_upstream/behaviour.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

// Each test with the curl driver on its own thread, on the server's I/O threads, and as two
// drivers (a cancel must find the driver that runs its transfer).
class upstream_cancel : public ::testing::TestWithParam<driver_placement> {
 protected:
  upstream_fixture f{{{"endless", "fake@chunks=100000,interval_ms=20"},
                      {"silent", "fake@first_byte_ms=10000"},
                      {"ok", "fake@chunks=3"}},
                     {},
                     {},
                     GetParam()};

  // Opens a streamed request and waits for its first content event.
  std::string open_and_read_first_token(http_client& c) {
    auto head =
        c.open_stream("POST", "/v1/chat/completions", upstream_fixture::chat_body("endless"));
    EXPECT_EQ(head.status, 200u);
    while (auto ev = c.next_event()) {
      auto j = json::parse(ev->data, nullptr, false);
      if (!j.is_discarded() && j.contains("choices") && !j["choices"].empty() &&
          j["choices"][0]["delta"].value("content", "") != "")
        break;
    }
    return head.header("x-streamgate-session");
  }

  std::int64_t stat(const char* name) { return f.upstream_stats()[name].get<std::int64_t>(); }

  void expect_upstream_closed(std::int64_t aborts) {
    EXPECT_TRUE(eventually([&] { return stat("client_aborts") == aborts; }))
        << f.upstream_stats().dump();
    EXPECT_EQ(stat("active_streams"), 0);
    EXPECT_EQ(stat("streams_completed"), 0);
    // Our side of every upstream connection is gone (the in-process count, which does not
    // include the connection /stats itself is read over).
    EXPECT_TRUE(eventually([&] { return f.upstream().counters().open_connections.load() == 0; }));
    EXPECT_TRUE(f.settled());
    auto r = f.stream("ok");  // and the server keeps serving
    EXPECT_EQ(r.text, fake::full_text(3, 8));
  }
};

TEST_P(upstream_cancel, explicit_cancel_closes_the_upstream_socket) {
  http_client c{f.port()};
  auto session = open_and_read_first_token(c);
  ASSERT_FALSE(session.empty());
  EXPECT_EQ(stat("active_streams"), 1);

  http_client control{f.port()};
  EXPECT_EQ(control.request("POST", "/v1/sessions/" + session + "/cancel").status, 200u);

  // The client's stream ends with exactly one terminal event: cancelled.
  int cancelled = 0;
  while (auto ev = c.next_event()) {
    auto j = json::parse(ev->data, nullptr, false);
    if (!j.is_discarded() && j.contains("error")) {
      EXPECT_EQ(j["error"]["code"], error_code::cancelled);
      ++cancelled;
    }
  }
  EXPECT_EQ(cancelled, 1);
  expect_upstream_closed(1);
}

TEST_P(upstream_cancel, client_disconnect_closes_the_upstream_socket) {
  http_client c{f.port()};
  open_and_read_first_token(c);
  c.close();
  expect_upstream_closed(1);
}

TEST_P(upstream_cancel, cancel_before_the_first_byte_closes_the_connection) {
  http_client c{f.port()};
  c.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(upstream_fixture::chat_body("silent").size()) + "\r\n\r\n" +
      upstream_fixture::chat_body("silent"));
  auto& counters = f.upstream().counters();
  ASSERT_TRUE(eventually([&] { return counters.requests_total.load() == 1; }));
  ASSERT_EQ(counters.open_connections.load(), 1);
  c.close();
  EXPECT_TRUE(eventually([&] { return stat("client_aborts") == 1; }));
  EXPECT_EQ(stat("streams_started"), 0);  // it never got as far as streaming
  EXPECT_TRUE(eventually([&] { return f.upstream().counters().open_connections.load() == 0; }));
  EXPECT_TRUE(f.settled());
}

TEST_P(upstream_cancel, many_disconnects_close_as_many_upstream_sockets) {
  std::vector<std::unique_ptr<http_client>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<http_client>(f.port()));
    open_and_read_first_token(*clients.back());
  }
  EXPECT_EQ(stat("active_streams"), 20);
  clients.clear();  // every client goes away at once
  expect_upstream_closed(20);
}

INSTANTIATE_TEST_SUITE_P(driver, upstream_cancel,
                         ::testing::Values(driver_placement::own_thread,
                                           driver_placement::io_threads,
                                           driver_placement::two_threads,
                                           driver_placement::two_io_loops),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace streamgate::test
