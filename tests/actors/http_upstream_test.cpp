// An HTTP provider's opener: the transfers a session starts itself, with no actor between it
// and the driver. The I/O layer is a scripted transfer_runner: the test plays the driver thread
// by invoking a transfer's callback.

#include "actors/error_code.hpp"
#include "actors/event_log.hpp"
#include "tests/actors/scripted_runner.hpp"
#include "tests/actors/session_fixture.hpp"

#include <nlohmann/json.hpp>

namespace streamgate {
namespace {

using test::recording_sink;
using test::scripted_runner;

class http_upstream_test : public ::testing::Test {
 protected:
  http_upstream_test() {
    opener = std::make_shared<http_upstream>(test::test_provider_config(), runner, &upstreams);
    events->open_lane(1);
  }

  std::unique_ptr<upstream_transfer> open() {
    auto req = std::get<chat_request>(parse_chat_request(
        R"({"model":"client-model","stream":true,"messages":[{"role":"user","content":"hi"}]})"));
    return opener->open(req, {1, events, [this](stream_event ev) {
                                // What the session sees first: the gauge already counts it out.
                                upstreams_at_terminal.push_back(upstreams.load());
                                terminals.push_back(std::move(ev));
                              }});
  }

  std::shared_ptr<scripted_runner> runner = std::make_shared<scripted_runner>();
  std::atomic<std::int64_t> upstreams{0};
  std::shared_ptr<http_upstream> opener;
  std::shared_ptr<recording_sink> sink = std::make_shared<recording_sink>();
  std::shared_ptr<event_log> events = test::log_into(sink);
  std::vector<stream_event> terminals;
  std::vector<std::int64_t> upstreams_at_terminal;
};

TEST_F(http_upstream_test, open_hands_the_provider_request_to_the_driver_at_once) {
  auto t = open();
  ASSERT_TRUE(t);
  ASSERT_EQ(runner->requests.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(runner->requests.at(1).body)["model"], "provider-model");
  EXPECT_EQ(upstreams.load(), 1);
  EXPECT_EQ(opener->live(), 1u);
}

TEST_F(http_upstream_test, deltas_go_to_the_log_and_the_terminal_event_to_its_hook_once) {
  auto t = open();
  runner->callbacks.at(1)(stream_event::make_delta("Hel"));
  runner->callbacks.at(1)(stream_event::make_delta("lo"));
  EXPECT_EQ(sink->text(), "Hello");
  EXPECT_TRUE(terminals.empty());
  runner->callbacks.at(1)(stream_event::make_finish("stop"));
  ASSERT_EQ(terminals.size(), 1u);
  EXPECT_EQ(terminals[0].kind, event_kind::finish);
  EXPECT_EQ(upstreams_at_terminal, std::vector<std::int64_t>{0});
  EXPECT_EQ(opener->live(), 0u);
  // Ended on its own: dropping the handle cancels nothing, so curl may reuse the connection.
  t.reset();
  EXPECT_TRUE(runner->cancels.empty());
}

TEST_F(http_upstream_test, a_cancel_removes_the_transfer_and_silences_its_end) {
  auto t = open();
  t->cancel();
  t->cancel();  // once is enough
  EXPECT_EQ(runner->cancels, std::vector<transfer_id>{1});
  EXPECT_EQ(upstreams.load(), 0);
  // The driver thread may still be inside the callback until it takes the cancel.
  runner->callbacks.at(1)(stream_event::make_finish("stop"));
  EXPECT_TRUE(terminals.empty());
}

TEST_F(http_upstream_test, dropping_the_handle_cancels_the_transfer) {
  open();
  EXPECT_EQ(runner->cancels, std::vector<transfer_id>{1});
  EXPECT_EQ(upstreams.load(), 0);
  EXPECT_EQ(opener->live(), 0u);
}

TEST_F(http_upstream_test, its_providers_end_ends_every_live_transfer_and_refuses_new_ones) {
  auto quiet = open();
  auto streaming = open();
  runner->callbacks.at(2)(stream_event::make_delta("a"));
  opener->close("exit_reason(unhandled_exception)");
  std::sort(runner->cancels.begin(), runner->cancels.end());
  EXPECT_EQ(runner->cancels, (std::vector<transfer_id>{1, 2}));
  ASSERT_EQ(terminals.size(), 2u);
  std::vector<std::string> codes{terminals[0].code, terminals[1].code};
  std::sort(codes.begin(), codes.end());
  // Before its first delta a session may fail over; after it, the stream was interrupted.
  EXPECT_EQ(codes, (std::vector<std::string>{std::string{error_code::upstream_error},
                                             std::string{error_code::upstream_interrupted}}));
  EXPECT_EQ(upstreams.load(), 0);
  EXPECT_FALSE(open());
  EXPECT_EQ(runner->requests.size(), 2u);
  EXPECT_EQ(upstreams.load(), 0);
}

// The session holds its transfer: whatever ends the session ends the transfer.
class http_upstream_session_test : public test::session_fixture {};

TEST_F(http_upstream_session_test, a_session_killed_mid_stream_cancels_its_transfer) {
  auto runner = std::make_shared<scripted_runner>();
  http_provider_config pc;
  pc.name = "h";
  pc.base_url = "http://h.test/v1";
  auto parts = test::spawn_http_provider(*sys, pc, runner, &registry.upstreams);
  keep(parts.handle);
  openers["h"] = parts.opener;
  route({{"h", parts.handle}});
  auto sink = std::make_shared<recording_sink>();
  auto s = start(sink);
  ASSERT_TRUE(state_of(s).transfer);
  runner->callbacks.at(1)(stream_event::make_delta("a"));
  sched->run();
  caf::anon_send_exit(s, caf::exit_reason::kill);
  sched->run();
  EXPECT_EQ(runner->cancels, std::vector<transfer_id>{1});
  EXPECT_EQ(registry.upstreams.load(), 0);
  EXPECT_EQ(parts.opener->live(), 0u);
}

}  // namespace
}  // namespace streamgate
