// Clients that do not play along: one that never reads while its stream runs (bounded
// buffering, then dropped as a slow consumer), and thousands of sockets that never send a
// byte (timed out). The server keeps serving everybody else throughout.

#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/ws_client.hpp"
#include "tests/support/ws_wire.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

TEST(ws_limits, a_client_that_never_reads_is_dropped_as_a_slow_consumer) {
  auto o = test_server::default_options();
  o.max_pending_bytes = 64 * 1024;
  test_server server{gateway_config::with_mock_provider(), o};
  ws_client slow{server.port(), std::chrono::seconds(10), 4096};
  for (auto id : {"a", "b", "c", "d"})
    slow.send({{"type", "start"}, {"id", id}, {"request", mock_request(100000)}});
  // `slow` reads nothing from now on; kernel buffers fill, then the server's bounded queue.
  ASSERT_TRUE(eventually([&] { return server.server().slow_consumer_drops() >= 1; },
                         std::chrono::seconds(20)));
  // Others are served meanwhile, and the dropped client's session is still there to resume.
  ws_client other{server.port()};
  other.send({{"type", "ping"}});
  EXPECT_EQ((*other.next())["type"], "pong");
  // (The socket may be gone before it read all four starts.)
  EXPECT_GE(server.engine().counts().live_sessions, 1u);
  EXPECT_TRUE(eventually([&] { return server.server().open_connections() == 1; }));
}

TEST(ws_limits, an_sse_client_that_never_reads_is_dropped_and_its_stream_cancelled) {
  auto o = test_server::default_options();
  o.max_pending_bytes = 64 * 1024;
  test_server server{gateway_config::with_mock_provider(), o};
  http_client slow{server.port()};
  auto head = slow.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000));
  ASSERT_EQ(head.status, 200u);
  // No more reads: the server's buffers fill, then it lets go of this client.
  ASSERT_TRUE(eventually([&] { return server.server().slow_consumer_drops() >= 1; },
                         std::chrono::seconds(20)));
  // /v1/chat/completions cancels with its connection (OpenAI semantics).
  EXPECT_TRUE(eventually([&] { return server.engine().counts().active_upstreams == 0; }));
  http_client other{server.port()};
  EXPECT_EQ(other.request("GET", "/healthz").status, 200u);
}

// A client that floods protocol pings and never reads the pongs: every pong
// counts against its budget, so it is dropped as a slow consumer (its memory bounded), and
// the flood does not hold the I/O thread: /healthz answers while it goes on.
TEST(ws_limits, a_ping_flood_that_never_reads_is_dropped_and_others_are_served_meanwhile) {
  auto o = test_server::default_options();
  o.max_pending_bytes = 8 << 20;  // big enough that the flood is still on when /healthz asks
  o.ws_heartbeat = std::chrono::milliseconds(0);  // only pongs are queued for this client
  test_server server{gateway_config::with_mock_provider(), o};
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  timeval tv{0, 200 * 1000};  // a blocked send returns now and then to see `stop`
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ASSERT_TRUE(connect_loopback(fd, server.port()));
  std::string upgrade =
      "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  ASSERT_EQ(::send(fd, upgrade.data(), upgrade.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(upgrade.size()));
  std::string batch;
  // Protocol pings: their pongs used to bypass the budget (app-level pongs never did).
  while (batch.size() < 64 * 1024) batch += client_frame(0x9, std::string(125, 'p'));
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> flooded{0};
  std::thread flood{[&] {
    std::size_t at = 0;  // a send may take part of the batch: frames must stay whole
    while (!stop.load()) {
      auto n = ::send(fd, batch.data() + at, batch.size() - at, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;  // cut
      if (n <= 0) continue;
      flooded += static_cast<std::size_t>(n);
      at = (at + static_cast<std::size_t>(n)) % batch.size();
    }
  }};
  // The server is busy with the flood: it must still answer someone else promptly.
  EXPECT_TRUE(eventually([&] { return flooded.load() > (1u << 20); }));
  {
    http_client h{server.port(), std::chrono::seconds(2)};
    EXPECT_EQ(h.request("GET", "/healthz").status, 200u);
  }
  EXPECT_EQ(server.server().slow_consumer_drops(), 0u) << "the flood was over too soon";
  EXPECT_TRUE(eventually([&] { return server.server().slow_consumer_drops() == 1; },
                         std::chrono::seconds(20)));
  stop = true;
  flood.join();
  ::close(fd);
  EXPECT_TRUE(eventually([&] { return server.server().open_connections() == 0; }));
}

TEST(ws_limits, over_max_connections_websocket_gets_1013_and_http_gets_503) {
  auto o = test_server::default_options();
  o.max_connections = 2;
  test_server server{gateway_config::with_mock_provider(), o};
  auto a = std::make_unique<ws_client>(server.port());
  ws_client b{server.port()};
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 2; }));

  ws_client refused{server.port()};
  EXPECT_FALSE(refused.next().has_value());
  EXPECT_EQ(refused.close_code(), 1013u);

  http_client h{server.port()};
  auto r = h.request("GET", "/healthz");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "too_many_connections");

  // The two admitted clients were never disturbed, and a freed slot is usable again.
  b.send({{"type", "ping"}});
  EXPECT_EQ((*b.next())["type"], "pong");
  a.reset();
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 1; }));
  ws_client c{server.port()};
  c.send({{"type", "ping"}});
  EXPECT_EQ((*c.next())["type"], "pong");
}

bool closed_by_peer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

// Both ends of every socket live in this process: raise the soft descriptor limit (CI
// machines often start at 1024) and size the crowd to what the hard limit allows.
int silent_socket_count(int wanted) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  rlim_t need = static_cast<rlim_t>(wanted) * 2 + 256;
  if (lim.rlim_cur < need) {
    lim.rlim_cur = std::min(need, lim.rlim_max);
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  return std::min<int>(wanted, static_cast<int>((lim.rlim_cur - 256) / 2));
}

TEST(ws_limits, thousands_of_silent_sockets_time_out_while_others_stream) {
  const int silent = silent_socket_count(2000);
  ASSERT_GE(silent, 200) << "the descriptor limit is too low for this test";
  auto o = test_server::default_options();
  o.idle_timeout = std::chrono::milliseconds(300);
  test_server server{gateway_config::with_mock_provider(), o};
  std::vector<int> fds;
  for (int i = 0; i < silent; ++i) {
    int fd = open_loopback(server.port());
    ASSERT_GE(fd, 0) << "connect " << i;
    fds.push_back(fd);
  }
  // A WebSocket client streams while the silent ones wait for their timeout.
  ws_client c{server.port()};
  c.send({{"type", "start"}, {"id", "a"}, {"request", mock_request(40, 10)}});
  std::string text;
  for (auto m = c.next(); m && (*m)["type"] != "done"; m = c.next()) {
    if ((*m)["type"] == "delta") text += (*m)["content"].get<std::string>();
  }
  EXPECT_EQ(text, mock_text(40));
  EXPECT_TRUE(eventually(
      [&] {
        for (int fd : fds) {
          if (fd >= 0 && !closed_by_peer(fd)) return false;
        }
        return true;
      },
      std::chrono::seconds(10)));
  EXPECT_TRUE(eventually([&] { return server.server().open_connections() == 1; }));
  for (int fd : fds) ::close(fd);
}

}  // namespace
}  // namespace streamgate::test
