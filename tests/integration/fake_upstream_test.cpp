// The fake-upstream program itself: flags, per-request faults, bad specs and /stats.

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

const std::string chat = R"({"model":"fake","stream":true,"messages":[]})";

TEST(fake_upstream, behaviour_flag_sets_the_default_fault) {
  child_process fake{FAKE_UPSTREAM_BIN, {"--listen", "127.0.0.1:0", "--behaviour", "status=503"}};
  auto line = fake.wait_for_line("listening on");
  ASSERT_FALSE(line.empty()) << fake.stderr_text();
  http_client c{child_process::port_of(line)};
  EXPECT_EQ(c.request("POST", "/v1/chat/completions", chat).status, 503u);
  // A request's own header overrides the default.
  auto ok = c.request("POST", "/v1/chat/completions", chat, {{"X-Fake", "status=200;chunks=2"}});
  EXPECT_EQ(ok.status, 200u);
  EXPECT_NE(ok.body.find("data: [DONE]"), std::string::npos);
  auto stats = json::parse(c.request("GET", "/stats").body);
  EXPECT_EQ(stats["requests_total"], 2);
  EXPECT_EQ(stats["streams_completed"], 1);
  fake.signal(SIGTERM);
  EXPECT_EQ(fake.wait(), 0);
}

TEST(fake_upstream, bad_specs_are_refused_with_the_reason) {
  child_process bad_flag{FAKE_UPSTREAM_BIN, {"--behaviour", "explode=1"}};
  EXPECT_EQ(bad_flag.wait(), 2);
  EXPECT_NE(bad_flag.stderr_text().find("unknown behaviour key 'explode'"), std::string::npos)
      << bad_flag.stderr_text();

  child_process remote{FAKE_UPSTREAM_BIN, {"--listen", "0.0.0.0:0"}};
  EXPECT_EQ(remote.wait(), 2);

  child_process fake{FAKE_UPSTREAM_BIN, {"--listen", "127.0.0.1:0"}};
  auto line = fake.wait_for_line("listening on");
  ASSERT_FALSE(line.empty());
  http_client c{child_process::port_of(line)};
  auto r = c.request("POST", "/v1/chat/completions",
                     R"({"model":"fake@chunks=many","stream":true,"messages":[]})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(json::parse(r.body)["error"]["message"], "chunks needs a non-negative integer");
  auto r2 = c.request("POST", "/v1/chat/completions", "{not json");
  EXPECT_EQ(r2.status, 400u);
}

}  // namespace
}  // namespace streamgate::test
