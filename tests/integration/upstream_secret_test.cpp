// API keys never leak: the real streamgate program, at debug log level, talks to the real
// fake-upstream program with a wrong key; the fake echoes the key it was sent in its 401
// message (as some providers do). Everything anyone could see is grepped for the key: the
// client's responses, streamgate's stdout and stderr (its logs), the admin view.

#include "actors/error_code.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tools/fake_upstream/fake_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

const std::string wrong_key = "sk-canary-5b1e0c7d9a2f4e6b8d3c1a0f";
const std::string right_key = "sk-right-key-that-the-fake-wants-42";

// The first piece of `key` of at least 6 characters found in `text`, or "".
std::string piece_of(const std::string& key, const std::string& text) {
  for (std::size_t at = 0; at + 6 <= key.size(); ++at)
    if (text.find(key.substr(at, 6)) != std::string::npos) return key.substr(at, 6);
  return {};
}

std::string drain_stdout(child_process& p) {
  std::string all;
  for (auto line = p.read_line(std::chrono::milliseconds(500)); !line.empty();
       line = p.read_line(std::chrono::milliseconds(500)))
    all += line + "\n";
  return all;
}

TEST(upstream_secret, a_failing_auth_run_never_shows_the_key) {
  child_process fake{FAKE_UPSTREAM_BIN, {"--listen", "127.0.0.1:0", "--require-key", right_key}};
  auto fake_line = fake.wait_for_line("listening on");
  ASSERT_FALSE(fake_line.empty()) << fake.stderr_text();
  auto fake_port = child_process::port_of(fake_line);

  ::setenv("SG_SECRET_TEST_KEY", wrong_key.c_str(), 1);
  auto config = write_temp_file(R"({"log": {"level": "debug"},
    "providers": [{"name": "leaky", "kind": "custom",
                   "base_url": "http://127.0.0.1:)" +
                                std::to_string(fake_port) + R"(/v1",
                   "api_key_env": "SG_SECRET_TEST_KEY", "models": ["m"]}]})");
  child_process server{STREAMGATE_BIN, {"--config", config, "--listen", "127.0.0.1:0", "--admin"}};
  auto line = server.wait_for_line("streamgate listening on");
  ASSERT_FALSE(line.empty()) << server.stderr_text();
  std::string seen = line + "\n";
  auto port = child_process::port_of(line);
  auto admin_line = server.wait_for_line("streamgate admin on");
  seen += admin_line + "\n";
  auto admin_port = child_process::port_of(admin_line);

  for (bool stream : {true, false}) {
    http_client c{port};
    auto r = c.request("POST", "/v1/chat/completions",
                       json{{"model", "m"},
                            {"stream", stream},
                            {"messages", {{{"role", "user"}, {"content", "hi"}}}}}
                           .dump());
    EXPECT_EQ(r.status, 502u) << r.body;
    auto body = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << r.body;
    EXPECT_EQ(body["error"]["code"], error_code::upstream_auth_failed);
    seen += r.body + "\n";
    for (auto& [k, v] : r.headers) seen += k + ": " + v + "\n";
  }
  {
    http_client c{admin_port};
    seen += c.request("GET", "/admin/providers").body + "\n";
    auto metrics = c.request("GET", "/metrics").body;
    // The failed attempts are in the metrics under the provider's name, never with its key.
    EXPECT_NE(metrics.find("provider=\"leaky\",outcome=\"upstream_auth_failed\""),
              std::string::npos)
        << metrics;
    seen += metrics;
  }
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(), 0);
  seen += drain_stdout(server);
  seen += server.stderr_text();
  std::remove(config.c_str());

  // The run really was logged (the grep below is not vacuous)...
  EXPECT_NE(seen.find("\"event\":\"access\""), std::string::npos) << seen;
  EXPECT_NE(seen.find("upstream_auth_failed"), std::string::npos) << seen;
  // ...and the fake really does echo the key it is sent, which streamgate must swallow.
  {
    http_client direct{fake_port};
    auto r = direct.request("POST", "/v1/chat/completions", R"({"model":"m","stream":true})",
                            {{"Authorization", "Bearer " + wrong_key}});
    EXPECT_EQ(r.status, 401u);
    EXPECT_NE(r.body.find(wrong_key), std::string::npos) << r.body;
  }
  // Not one occurrence of the key, nor of a long piece of it.
  EXPECT_EQ(seen.find(wrong_key), std::string::npos) << seen;
  EXPECT_EQ(piece_of(wrong_key, seen), "") << seen;
  EXPECT_EQ(piece_of(right_key, seen), "") << seen;
}

TEST(upstream_secret, a_key_echoed_across_the_message_cut_is_scrubbed_whole) {
  // The fake quotes the key it was sent in 400, 429 and 500 answers, starting at a chosen
  // character: across the 400-character cut of a provider's message, the key used to lose
  // its last character before redaction looked for it, and the rest reached client and log.
  fake::server_options fo;
  fo.port = 0;
  fake::fake_server fake{fo};
  fake.start();
  ::setenv("SG_SECRET_TEST_KEY", wrong_key.c_str(), 1);
  std::string rename;
  std::vector<std::string> models;
  for (auto status : {400, 429, 500}) {
    for (auto at : {370, 390, 399, 400}) {
      auto model = "e" + std::to_string(status) + "-" + std::to_string(at);
      rename +=
          (rename.empty() ? "" : ",") + ("\"" + model + "\": \"m@status=" + std::to_string(status) +
                                         ",retry_after=0,echo_key_at=" + std::to_string(at) + "\"");
      models.push_back(model);
    }
  }
  // A breaker that stays closed: every request must reach the echoing provider.
  auto config = write_temp_file(R"({"log": {"level": "debug"},
    "breaker": {"failure_threshold": 1000, "rate_window": 0},
    "providers": [{"name": "echoing", "kind": "custom",
                   "base_url": "http://127.0.0.1:)" +
                                std::to_string(fake.port()) + R"(/v1",
                   "api_key_env": "SG_SECRET_TEST_KEY", "models": ["m"],
                   "rename": {)" +
                                rename + R"(}}]})");
  child_process server{STREAMGATE_BIN, {"--config", config, "--listen", "127.0.0.1:0"}};
  auto line = server.wait_for_line("streamgate listening on");
  ASSERT_FALSE(line.empty()) << server.stderr_text();
  std::string seen;
  for (auto& model : models) {
    http_client c{child_process::port_of(line)};
    auto r = c.request("POST", "/v1/chat/completions",
                       json{{"model", model},
                            {"stream", true},
                            {"messages", {{{"role", "user"}, {"content", "hi"}}}}}
                           .dump());
    EXPECT_GE(r.status, 400u) << model << " " << r.body;
    // The message really is the provider's, cut where the key was.
    EXPECT_NE(r.body.find("..."), std::string::npos) << model << " " << r.body;
    seen += r.body + "\n";
  }
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(), 0);
  seen += drain_stdout(server) + server.stderr_text();
  std::remove(config.c_str());
  EXPECT_NE(seen.find("upstream_failed"), std::string::npos) << seen;  // the log was read
  EXPECT_EQ(piece_of(wrong_key, seen), "") << seen;
}

TEST(upstream_secret, a_key_of_the_wrong_shape_is_a_config_error_without_the_key) {
  ::setenv("SG_SECRET_TEST_KEY", wrong_key.c_str(), 1);
  auto config = write_temp_file(R"({"providers": [{"name": "old", "kind": "zhipu_legacy",
      "api_key_env": "SG_SECRET_TEST_KEY", "models": ["chatglm_turbo"]}]})");
  child_process server{STREAMGATE_BIN, {"--config", config}};
  EXPECT_EQ(server.wait(), 2);
  auto all = drain_stdout(server) + server.stderr_text();
  EXPECT_NE(all.find("providers[0].api_key_env"), std::string::npos) << all;
  EXPECT_EQ(all.find(wrong_key), std::string::npos) << all;
  std::remove(config.c_str());
}

}  // namespace
}  // namespace streamgate::test
