// The streamgate program as operators run it: flags, config errors, graceful shutdown.

#include "providers/mock_provider.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

TEST(server_process, help_lists_the_flags) {
  child_process p{STREAMGATE_BIN, {"--help"}};
  std::string all;
  for (auto line = p.read_line(); !line.empty(); line = p.read_line()) all += line + "\n";
  EXPECT_EQ(p.wait(), 0);
  for (auto flag : {"--config", "--listen", "--log-level", "--help"})
    EXPECT_NE(all.find(flag), std::string::npos) << flag;
}

TEST(server_process, a_bad_config_fails_at_start_with_the_key_path) {
  auto path = write_temp_file(R"({"http": {"max_body_bytes": "big"}})");
  child_process p{STREAMGATE_BIN, {"--config", path}};
  EXPECT_EQ(p.wait(), 2);
  EXPECT_NE(p.stderr_text().find("http.max_body_bytes: expected integer"), std::string::npos)
      << p.stderr_text();
  std::remove(path.c_str());
}

TEST(server_process, sigterm_ends_open_streams_with_server_shutting_down_and_exits_0) {
  auto path = write_temp_file(R"({"shutdown": {"drain_ms": 200}})");
  child_process p{STREAMGATE_BIN, {"--config", path, "--listen", "127.0.0.1:0"}};
  auto line = p.wait_for_line("streamgate listening on");
  ASSERT_FALSE(line.empty()) << p.stderr_text();
  auto port = child_process::port_of(line);

  http_client c{port};
  auto head = c.open_stream("POST", "/v1/chat/completions", mock_body(true, 100000, 10));
  ASSERT_EQ(head.status, 200u);
  ASSERT_TRUE(c.next_event().has_value());

  p.signal(SIGTERM);
  std::string last;
  while (auto ev = c.next_event()) {
    if (!ev->data.empty()) last = ev->data;
  }
  auto j = json::parse(last, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << last;
  EXPECT_EQ(j["error"]["code"], "server_shutting_down");
  EXPECT_EQ(p.wait(), 0) << p.stderr_text();
  // New connections are refused once the server is gone.
  EXPECT_THROW(http_client{port}, std::runtime_error);
  std::remove(path.c_str());
}

TEST(server_process, a_finishing_stream_is_drained_not_cut) {
  auto path = write_temp_file(R"({"shutdown": {"drain_ms": 5000}})");
  child_process p{STREAMGATE_BIN, {"--config", path, "--listen", "127.0.0.1:0"}};
  auto port = child_process::port_of(p.wait_for_line("streamgate listening on"));
  ASSERT_NE(port, 0);
  http_client c{port};
  c.open_stream("POST", "/v1/chat/completions", mock_body(true, 20, 10));
  ASSERT_TRUE(c.next_event().has_value());
  p.signal(SIGINT);
  bool done = false;
  std::string text;
  while (auto ev = c.next_event()) {
    if (ev->data == "[DONE]") done = true;
  }
  EXPECT_TRUE(done);  // the stream finished normally inside the drain period
  EXPECT_EQ(p.wait(), 0);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace streamgate::test

namespace streamgate::test {
namespace {

// An engine that cannot recover must not leave a process that answers /healthz while it
// serves nothing: it exits non-zero, for systemd or Kubernetes to restart it.
TEST(server_process, exits_70_when_the_router_crashes_past_its_restart_budget) {
  auto path = write_temp_file(R"({"supervision": {"max_restarts": 0}})");
  child_process p{STREAMGATE_BIN, {"--config", path, "--listen", "127.0.0.1:0", "--admin"}};
  auto port = child_process::port_of(p.wait_for_line("streamgate listening on"));
  ASSERT_NE(port, 0) << p.stderr_text();
  auto admin_port = child_process::port_of(p.wait_for_line("streamgate admin on"));
  http_client c{port};
  EXPECT_EQ(c.request("GET", "/readyz").status, 200u);
  // The answer races the process's exit: 202, or the connection closed with the process.
  auto status = http_client{admin_port}.request("POST", "/admin/router/crash").status;
  EXPECT_TRUE(status == 202u || status == 0u) << status;
  EXPECT_EQ(p.wait(), 70);
  EXPECT_NE(p.stderr_text().find("\"engine_down\""), std::string::npos) << p.stderr_text();
  std::remove(path.c_str());
}

}  // namespace
}  // namespace streamgate::test
