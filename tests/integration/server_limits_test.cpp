// Refusals at the edges of the server's life and capacity: a flood over max_connections gets
// the blunt 503 without a read, a server that is shutting down refuses new chats with 503, and
// the streamgate program that cannot listen says why and exits 1.

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace streamgate::test {
namespace {

using namespace std::chrono_literals;

// What a socket that never sent anything receives within `limit` (until the peer closes).
std::string received_unasked(int fd, std::chrono::milliseconds limit) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[1024];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Past max_connections, up to 64 connections are read so they can be refused in their own
// terms; a flood beyond those gets the 503 written at once, before it sends a byte.
TEST(server_limits, a_flood_over_max_connections_gets_a_503_without_being_read) {
  auto o = test_server::default_options();
  o.max_connections = 1;
  o.idle_timeout = 20s;  // the silent connections stay while the test looks
  test_server s{gateway_config::with_mock_provider(), o};
  http_client first{s.port()};
  ASSERT_EQ(first.request("GET", "/healthz").status, 200u);  // holds the one allowed slot

  std::vector<int> silent;
  for (int i = 0; i < 80; ++i) {
    int fd = open_loopback(s.port());
    ASSERT_GE(fd, 0);
    silent.push_back(fd);
  }
  // The first 64 over the limit wait to be read; the last ones are answered unasked.
  std::string last = received_unasked(silent.back(), 5s);
  EXPECT_EQ(last.rfind("HTTP/1.1 503", 0), 0u) << last;
  EXPECT_NE(last.find("too_many_connections"), std::string::npos) << last;
  for (int fd : silent) ::close(fd);

  auto metrics = first.request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("streamgate_limits_rejected_total{limit=\"max_connections\"}"),
            std::string::npos);
}

TEST(server_limits, a_chat_started_while_the_server_shuts_down_gets_503) {
  test_server s;
  s.engine().shutdown();
  http_client c{s.port()};
  auto r = c.request("POST", "/v1/chat/completions", mock_body(false, 2));
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "server_shutting_down");
}

// A port that someone else holds: the program names the address and the cause, exit 1.
TEST(server_limits, the_program_that_cannot_listen_says_why_and_exits_1) {
  int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto port = std::to_string(ntohs(addr.sin_port));

  child_process p{STREAMGATE_BIN, {"--listen", "127.0.0.1:" + port}};
  EXPECT_EQ(p.wait(20s), 1);
  auto err = p.stderr_text();
  EXPECT_NE(err.find("cannot listen on 127.0.0.1:" + port), std::string::npos) << err;
  EXPECT_NE(err.find("\"fatal\""), std::string::npos) << err;
  ::close(holder);
}

TEST(server_limits, a_bad_log_level_flag_is_a_configuration_error_with_exit_2) {
  child_process p{STREAMGATE_BIN, {"--log-level", "loud"}};
  EXPECT_EQ(p.wait(20s), 2);
  EXPECT_NE(p.stderr_text().find("--log-level: unknown level 'loud'"), std::string::npos)
      << p.stderr_text();
}

}  // namespace
}  // namespace streamgate::test
