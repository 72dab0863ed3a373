// The streamgate program at its file descriptor limit (issue 17): accept() failing with EMFILE
// must not spin or flood the log, max_connections must act before the descriptors run out,
// and the server must take new clients again once descriptors are free.

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace streamgate::test {
namespace {

using namespace std::chrono_literals;

// CPU time (user + system) the process has used so far, from /proc/<pid>/stat.
std::chrono::milliseconds cpu_time(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat{std::istreambuf_iterator<char>(in), {}};
  // Fields from the third on follow the command name, which is in parentheses.
  std::istringstream fields{stat.substr(stat.rfind(')') + 2)};
  std::string field;
  unsigned long long ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i)
    if (i >= 14) ticks += std::stoull(field);  // utime, stime
  return std::chrono::milliseconds(ticks * 1000 /
                                   static_cast<unsigned long long>(::sysconf(_SC_CLK_TCK)));
}

std::size_t open_descriptors(int pid) {
  std::size_t n = 0;
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// Clients that each sent a request and keep their connection open.
struct crowd {
  std::vector<int> fds;
  crowd(std::uint16_t port, int n) {
    const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < n; ++i) {
      int fd = open_loopback(port);  // the listen queue takes it even while nobody accepts
      if (fd < 0) break;
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
      fds.push_back(fd);
    }
  }
  ~crowd() {
    for (int fd : fds) ::close(fd);
  }
  // How many have an answer starting with `status_line` waiting (none waited for).
  std::size_t answered(const std::string& prefix) const {
    std::size_t n = 0;
    for (int fd : fds) {
      char buf[512];
      auto got = ::recv(fd, buf, sizeof buf - 1, MSG_PEEK | MSG_DONTWAIT);
      if (got > 0 && std::string(buf, static_cast<std::size_t>(got)).rfind(prefix, 0) == 0) ++n;
    }
    return n;
  }
};

// What the server costs while the crowd waits: the CPU it used over an observation window
// (a measurement interval; nothing is waited for).
double cpu_share_over_a_second(int pid) {
  auto cpu0 = cpu_time(pid);
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1s);
  auto cpu = cpu_time(pid) - cpu0;
  auto wall =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  return static_cast<double>(cpu.count()) / static_cast<double>(wall.count());
}

bool serves_again(std::uint16_t port) {
  return eventually(
      [&] {
        try {
          http_client c{port, 2s};
          return c.request("GET", "/healthz").status == 200u;
        } catch (const std::exception&) {
          return false;
        }
      },
      10s);
}

// A server that went through descriptor exhaustion still shuts down gracefully on SIGTERM
// (and so writes its coverage counts, which a SIGKILL would lose).
void ends_cleanly(child_process& p) {
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(std::chrono::seconds(20)), 0) << p.stderr_text().substr(0, 2000);
}

// `ulimit -n 256` and 400 clients: used to spin a core on EMFILE, writing ~150,000
// accept_failed lines a second, with max_connections (20000) never reached.
TEST(descriptor_limit, under_ulimit_256_four_hundred_clients_get_answers_not_a_spinning_server) {
  child_process p{STREAMGATE_BIN, {"--listen", "127.0.0.1:0"}, 256};
  auto port = child_process::port_of(p.wait_for_line("streamgate listening on"));
  ASSERT_NE(port, 0) << p.stderr_text();
  EXPECT_NE(p.stderr_text().find("max_connections_lowered"), std::string::npos);
  {
    crowd clients{port, 400};
    ASSERT_EQ(clients.fds.size(), 400u);
    // A spinning accept takes a whole core (1.0). Half a core tells it apart with room for the
    // sanitizer builds, where the idle server's timers alone came to 0.26 once.
    EXPECT_LT(cpu_share_over_a_second(p.pid()), 0.5);
    EXPECT_LE(count_of(p.stderr_text(), "\"accept_failed\""), 2u);
    // max_connections, fitted to the descriptors, refused the clients over it.
    EXPECT_GT(clients.answered("HTTP/1.1 503"), 0u);
    EXPECT_GT(clients.answered("HTTP/1.1 200"), 0u);
  }
  EXPECT_TRUE(serves_again(port)) << p.stderr_text().substr(0, 2000);
  ends_cleanly(p);
}

// Descriptors running out under a running server (here: its limit lowered to what it already
// uses, plus a few): accept() fails, the listener backs off instead of spinning, logs once,
// and its spare descriptor lets it tell waiting clients 503 rather than leave them hanging.
TEST(descriptor_limit, out_of_descriptors_the_listener_backs_off_and_answers_503) {
  child_process p{STREAMGATE_BIN, {"--listen", "127.0.0.1:0"}};
  auto port = child_process::port_of(p.wait_for_line("streamgate listening on"));
  ASSERT_NE(port, 0) << p.stderr_text();
  auto admin_port = child_process::port_of(p.wait_for_line("streamgate admin on"));
  rlimit lim{};
  ASSERT_EQ(::prlimit(p.pid(), RLIMIT_NOFILE, nullptr, &lim), 0);
  lim.rlim_cur = open_descriptors(p.pid()) + 8;
  ASSERT_EQ(::prlimit(p.pid(), RLIMIT_NOFILE, &lim, nullptr), 0);
  {
    crowd clients{port, 100};
    ASSERT_EQ(clients.fds.size(), 100u);
    // A spinning accept takes a whole core (1.0). Half a core tells it apart with room for the
    // sanitizer builds, where the idle server's timers alone came to 0.26 once.
    EXPECT_LT(cpu_share_over_a_second(p.pid()), 0.5);
    auto log = p.stderr_text();
    EXPECT_EQ(count_of(log, "\"accept_failed\""), 1u) << log.substr(0, 2000);
    EXPECT_GT(clients.answered("HTTP/1.1 503"), 0u);
  }
  // The clients gone, their descriptors are the server's again, under the same limit.
  ASSERT_TRUE(serves_again(port)) << p.stderr_text().substr(0, 2000);
  http_client c{admin_port};
  auto metrics = c.request("GET", "/metrics").body;
  EXPECT_EQ(metrics.find("streamgate_http_accept_failures_total 0"), std::string::npos);
  EXPECT_NE(metrics.find("streamgate_http_accept_failures_total "), std::string::npos);
  EXPECT_NE(metrics.find("streamgate_limits_rejected_total{limit=\"file_descriptors\"}"),
            std::string::npos);
  ends_cleanly(p);
}

}  // namespace
}  // namespace streamgate::test
