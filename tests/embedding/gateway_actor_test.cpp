// The public gateway actor, used as an embedding application uses it: through
// <streamgate/...> only, linked against the shared engine library, in a real actor system
// with the mock provider.

#include <streamgate/spawn_gateway.hpp>

#include <gtest/gtest.h>
#include <caf/all.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

namespace {

using namespace streamgate;
using namespace std::chrono_literals;

constexpr auto patience = 20s;

chat_request mock_request(int tokens, int interval_ms) {
  nlohmann::json body = {
      {"model", "mock"},
      {"messages", {{{"role", "user"}, {"content", "hi"}}}},
      {"mock", {{"tokens", tokens}, {"first_token_ms", 0}, {"interval_ms", interval_ms}}}};
  return std::get<chat_request>(parse_chat_request(body.dump()));
}

// Every gateway in these tests is shut down, and awaited, before the next one starts.
class gateway_actor_test : public ::testing::Test {
 protected:
  gateway_actor_test() : system_{config()}, self_{system_} {}

  static caf::actor_system_config& config() {
    static caf::actor_system_config cfg = [] {
      caf::actor_system_config c;
      c.set("logger.verbosity", caf::atom("quiet"));
      return c;
    }();
    return cfg;
  }

  void SetUp() override {
    gateway_options opts;
    opts.log_line = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock{log_mutex_};
      log_.emplace_back(line);
    };
    auto g = spawn_gateway(system_, opts);
    ASSERT_TRUE(g) << system_.render(g.error());
    gateway_ = *g;
  }

  void TearDown() override {
    if (gateway_) stop_gateway();
  }

  void stop_gateway() {
    self_->monitor(gateway_);
    self_->send(gateway_, shutdown_atom::value);
    bool down = false;
    self_->receive([&](caf::down_msg& m) { down = m.source == gateway_.address(); },
                   caf::after(patience) >> [] {});
    EXPECT_TRUE(down) << "the gateway did not quit after shutdown";
    gateway_ = nullptr;
  }

  event_receiver_actor me() { return caf::actor_cast<event_receiver_actor>(self_.ptr()); }

  start_result start(chat_request req, const event_receiver_actor& to) {
    start_result r;
    self_->request(gateway_, caf::infinite, start_atom::value, std::move(req), to)
        .receive([&](start_result& x) { r = std::move(x); },
                 [&](caf::error& e) { r.error_code = system_.render(e); });
    return r;
  }

  template <class... Ts>
  bool ask_bool(Ts... xs) {
    bool out = false;
    self_->request(gateway_, caf::infinite, xs...)
        .receive([&](bool x) { out = x; }, [](caf::error&) {});
    return out;
  }

  gateway_status status() {
    gateway_status s;
    self_->request(gateway_, caf::infinite, status_atom::value)
        .receive([&](gateway_status& x) { s = std::move(x); }, [](caf::error&) {});
    return s;
  }

  // Events for `self_` until `n` sessions have had their terminal event, by session id.
  std::map<std::string, std::vector<stream_event>> collect(std::size_t n) {
    std::map<std::string, std::vector<stream_event>> out;
    std::size_t ended = 0;
    bool timed_out = false;
    while (ended < n && !timed_out) {
      self_->receive(
          [&](session_event& e) {
            if (e.event.terminal()) ++ended;
            out[e.session_id].push_back(std::move(e.event));
          },
          caf::after(patience) >> [&] { timed_out = true; });
    }
    EXPECT_FALSE(timed_out) << ended << " of " << n << " streams ended";
    return out;
  }

  std::size_t log_lines() {
    std::lock_guard<std::mutex> lock{log_mutex_};
    return log_.size();
  }

  caf::actor_system system_;
  caf::scoped_actor self_;
  gateway_actor gateway_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

std::string text_of(const std::vector<stream_event>& events, std::uint64_t after = 0) {
  std::string out;
  for (auto& e : events)
    if (e.seq > after && e.kind == event_kind::delta) out += e.text;
  return out;
}

TEST_F(gateway_actor_test, the_start_reply_comes_before_the_first_event) {
  self_->send(gateway_, start_atom::value, mock_request(5, 0), me());
  std::string id;
  self_->receive([&](start_result& r) { id = r.session_id; },
                 [&](session_event&) { ADD_FAILURE() << "an event came before the reply"; },
                 caf::after(patience) >> [] { ADD_FAILURE() << "no reply"; });
  ASSERT_FALSE(id.empty());
  auto events = collect(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events.begin()->first, id);
}

TEST_F(gateway_actor_test, one_receiver_tells_many_streams_apart_by_id) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = start(mock_request(8 + i, 1), me());
    ASSERT_TRUE(r.ok()) << r.error_code;
    ids.push_back(r.session_id);
  }
  auto events = collect(3);
  ASSERT_EQ(events.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    auto& list = events[ids[i]];
    ASSERT_FALSE(list.empty()) << ids[i];
    for (std::size_t k = 0; k < list.size(); ++k) EXPECT_EQ(list[k].seq, k + 1);
    EXPECT_EQ(list.back().kind, event_kind::finish);
    std::size_t deltas = 0;
    for (auto& e : list) deltas += e.is_output() ? 1 : 0;
    EXPECT_EQ(deltas, static_cast<std::size_t>(8 + i));
  }
}

TEST_F(gateway_actor_test, cancel_ends_a_stream_with_cancelled) {
  auto r = start(mock_request(100000, 2), me());
  ASSERT_TRUE(r.ok());
  self_->receive([](session_event&) {}, caf::after(patience) >> [] { FAIL() << "no event"; });
  EXPECT_TRUE(ask_bool(cancel_atom::value, r.session_id));
  auto events = collect(1);
  EXPECT_EQ(events[r.session_id].back().kind, event_kind::cancelled);
  EXPECT_FALSE(ask_bool(cancel_atom::value, std::string{"no-such-session"}));
}

TEST_F(gateway_actor_test, attach_after_a_seq_replays_the_rest_to_another_receiver) {
  auto r = start(mock_request(30, 0), me());
  ASSERT_TRUE(r.ok());
  auto whole = collect(1)[r.session_id];
  ASSERT_GT(whole.size(), 12u);

  caf::scoped_actor other{system_};
  std::vector<stream_event> rest;
  bool attached = false;
  other
      ->request(gateway_, caf::infinite, attach_atom::value, r.session_id, std::uint64_t{12},
                caf::actor_cast<event_receiver_actor>(other.ptr()))
      .receive([&](bool x) { attached = x; }, [](caf::error&) {});
  ASSERT_TRUE(attached);
  bool timed_out = false;
  while (!timed_out && (rest.empty() || !rest.back().terminal())) {
    other->receive([&](session_event& e) { rest.push_back(std::move(e.event)); },
                   caf::after(patience) >> [&] { timed_out = true; });
  }
  ASSERT_FALSE(timed_out);
  ASSERT_EQ(rest.size(), whole.size() - 12);
  EXPECT_EQ(rest.front().seq, 13u);
  EXPECT_EQ(text_of(rest), text_of(whole, 12));

  EXPECT_FALSE(
      ask_bool(attach_atom::value, std::string{"no-such-session"}, std::uint64_t{0}, me()));
}

TEST_F(gateway_actor_test, a_receiver_that_dies_is_detached_and_the_stream_stays_resumable) {
  // A receiver that quits on its third event, in the middle of a stream.
  auto doomed = caf::actor_cast<event_receiver_actor>(
      system_.spawn([](caf::event_based_actor* self) -> caf::behavior {
        auto seen = std::make_shared<int>(0);
        return {[=](session_event&) {
                  if (++*seen == 3) self->quit();
                },
                [](session_detached&) {}};
      }));
  auto r = start(mock_request(40, 5), doomed);
  ASSERT_TRUE(r.ok());
  self_->monitor(doomed);
  self_->receive([](caf::down_msg&) {}, caf::after(patience) >> [] { FAIL() << "alive"; });
  // The gateway lets go of it: no receiver is left with a live stream.
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (status().receivers != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_EQ(status().receivers, 0u);
  // The session went on without it: the whole answer is there to resume, from the start.
  EXPECT_TRUE(ask_bool(attach_atom::value, r.session_id, std::uint64_t{0}, me()));
  auto events = collect(1)[r.session_id];
  EXPECT_EQ(events.front().seq, 1u);
  EXPECT_EQ(events.back().kind, event_kind::finish);
}

TEST_F(gateway_actor_test, detach_stops_delivery_and_the_session_goes_on) {
  auto r = start(mock_request(100000, 2), me());
  ASSERT_TRUE(r.ok());
  self_->receive([](session_event&) {}, caf::after(patience) >> [] { FAIL() << "no event"; });
  self_->send(gateway_, detach_atom::value, r.session_id, me());
  auto s = status();
  EXPECT_EQ(s.receivers, 0u);
  EXPECT_EQ(s.active_sessions, 1u);  // still streaming, for an attach to come
  EXPECT_TRUE(ask_bool(cancel_atom::value, r.session_id));
}

class counting_sink final : public event_sink {
 public:
  bool deliver(const event_ptr& ev) override {
    std::lock_guard<std::mutex> lock{mutex};
    events.push_back(*ev);
    if (ev->terminal()) ended.notify_all();
    return true;
  }
  const char* transport() const override { return "custom"; }
  // Its calls come from the engine's threads: waits for the terminal event.
  bool wait_for_end(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock{mutex};
    return ended.wait_for(lock, limit,
                          [this] { return !events.empty() && events.back().terminal(); });
  }
  std::mutex mutex;
  std::condition_variable ended;
  std::vector<stream_event> events;
};

TEST_F(gateway_actor_test, a_custom_sink_receives_the_stream) {
  auto sink = std::make_shared<counting_sink>();
  start_result r;
  self_->request(gateway_, caf::infinite, start_atom::value, mock_request(6, 0), sink_ptr{sink})
      .receive([&](start_result& x) { r = std::move(x); }, [](caf::error&) {});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(sink->wait_for_end(patience));
  std::lock_guard<std::mutex> lock{sink->mutex};
  EXPECT_EQ(sink->events.back().kind, event_kind::finish);
  EXPECT_EQ(sink->events.size(), sink->events.back().seq);
}

TEST_F(gateway_actor_test, shutdown_ends_running_streams_and_refuses_new_ones) {
  auto r = start(mock_request(100000, 2), me());
  ASSERT_TRUE(r.ok());
  self_->send(gateway_, shutdown_atom::value);
  // Processed after the shutdown: refused. The drain ends as soon as the running stream has
  // (no HTTP clients to wait for), so a slow test thread may find the gateway already gone.
  // Either way no session starts (server_limits_test checks what a draining engine answers).
  auto refused = start(mock_request(5, 0), me());
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error_code == "server_shutting_down" ||
              refused.error_code == "system_error(request_receiver_down)")
      << refused.error_code;
  auto events = collect(1)[r.session_id];
  EXPECT_EQ(events.back().kind, event_kind::error);
  EXPECT_EQ(events.back().code, "server_shutting_down");
  stop_gateway();
}

TEST_F(gateway_actor_test, one_gateway_at_a_time_then_another) {
  auto second = spawn_gateway(system_, {});
  ASSERT_FALSE(second);
  EXPECT_NE(system_.render(second.error()).find("already running"), std::string::npos);
  stop_gateway();
  auto again = spawn_gateway(system_, {R"({"log": {"level": "off"}})", nullptr});
  ASSERT_TRUE(again) << system_.render(again.error());
  gateway_ = *again;
  auto r = start(mock_request(3, 0), me());
  EXPECT_TRUE(r.ok());
  collect(1);
}

TEST_F(gateway_actor_test, the_log_goes_where_the_application_says) {
  auto r = start(mock_request(3, 0), me());
  ASSERT_TRUE(r.ok());
  collect(1);
  stop_gateway();  // every session has ended, and logged its end
  auto lines = log_lines();
  EXPECT_GT(lines, 0u);
  std::lock_guard<std::mutex> lock{log_mutex_};
  for (auto& l : log_) EXPECT_TRUE(nlohmann::json::accept(l)) << l;
}

TEST_F(gateway_actor_test, a_silenced_log_writes_nothing) {
  stop_gateway();
  std::atomic<int> lines{0};
  auto g =
      spawn_gateway(system_, {R"({"log": {"level": "off"}})", [&](std::string_view) { ++lines; }});
  ASSERT_TRUE(g);
  gateway_ = *g;
  ASSERT_TRUE(start(mock_request(3, 0), me()).ok());
  collect(1);
  stop_gateway();
  EXPECT_EQ(lines.load(), 0);
}

TEST_F(gateway_actor_test, an_invalid_configuration_is_refused_with_its_path) {
  for (auto [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"{", "not valid JSON"},
           {R"({"sessions": {"resume_window_ms": "soon"}})", "sessions.resume_window_ms"},
           {R"({"no_such_key": 1})", "no_such_key"},
           {R"({"log": {"level": "loud"}})", "log.level"},
       }) {
    auto g = spawn_gateway(system_, {text, nullptr});
    ASSERT_FALSE(g) << text;
    auto message = system_.render(g.error());
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
}

// One HTTP/1.1 request to 127.0.0.1:port with Connection: close; everything answered.
std::string http_exchange(std::uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return {};
  }
  ::send(fd, request.data(), request.size(), 0);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, n);
  ::close(fd);
  return answer;
}

TEST_F(gateway_actor_test, serve_http_serves_the_api_next_to_the_actors) {
  stop_gateway();
  gateway_options opts{R"({"listen": "127.0.0.1:0", "log": {"level": "off"}})", nullptr, true};
  auto g = spawn_gateway(system_, opts);
  ASSERT_TRUE(g) << system_.render(g.error());
  gateway_ = *g;
  auto port = status().http_port;
  ASSERT_NE(port, 0);
  std::string body = R"({"model":"mock","stream":true,"messages":[{"role":"user","content":"x"}],)"
                     R"("mock":{"tokens":5,"first_token_ms":0,"interval_ms":0}})";
  auto answer =
      http_exchange(port,
                    "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                    "Content-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("data: [DONE]"), std::string::npos) << answer;
  // The HTTP stream and an actor's stream share one engine.
  ASSERT_TRUE(start(mock_request(3, 0), me()).ok());
  collect(1);
  EXPECT_EQ(status().live_sessions, 2u);
  stop_gateway();
  // Closed with the gateway.
  EXPECT_TRUE(http_exchange(port, "GET /v1/models HTTP/1.1\r\nHost: t\r\n\r\n").empty());
}

TEST_F(gateway_actor_test, serve_http_on_an_address_in_use_is_an_error) {
  stop_gateway();
  gateway_options first{R"({"listen": "127.0.0.1:0", "log": {"level": "off"}})", nullptr, true};
  auto g = spawn_gateway(system_, first);
  ASSERT_TRUE(g);
  gateway_ = *g;
  auto port = status().http_port;
  // A second engine may not run, so the port is held by a plain socket instead.
  stop_gateway();
  int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  gateway_options taken{
      R"({"listen": "127.0.0.1:)" + std::to_string(port) + R"(", "log": {"level": "off"}})",
      nullptr, true};
  auto refused = spawn_gateway(system_, taken);
  ::close(holder);
  ASSERT_FALSE(refused);
  EXPECT_NE(system_.render(refused.error()).find("did not start"), std::string::npos);
  // The failed start left nothing behind: the next gateway starts.
  auto again = spawn_gateway(system_, {});
  ASSERT_TRUE(again) << system_.render(again.error());
  gateway_ = *again;
}

}  // namespace

namespace {

// An engine that cannot recover takes the gateway actor down with an error: an application
// that monitors it (or links to it) hears that the gateway cannot serve any more.
TEST_F(gateway_actor_test, an_engine_past_its_restart_budget_takes_the_gateway_down_with_an_error) {
  stop_gateway();
  gateway_options opts{R"({"listen": "127.0.0.1:0", "http": {"admin": true},
                           "supervision": {"max_restarts": 0}, "log": {"level": "off"}})",
                       nullptr, true};
  auto g = spawn_gateway(system_, opts);
  ASSERT_TRUE(g) << system_.render(g.error());
  gateway_ = *g;
  auto port = status().admin_port;
  self_->monitor(gateway_);
  auto answer = http_exchange(
      port, "POST /admin/router/crash HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  // The answer races the gateway's end: 202, or the connection closed with its server.
  EXPECT_TRUE(answer.empty() || answer.rfind("HTTP/1.1 202", 0) == 0) << answer;
  caf::error reason;
  self_->receive([&](caf::down_msg& m) { reason = m.reason; }, caf::after(patience) >> [] {});
  EXPECT_EQ(reason, caf::sec::runtime_error) << system_.render(reason);
  EXPECT_NE(system_.render(reason).find("engine stopped"), std::string::npos)
      << system_.render(reason);
  gateway_ = nullptr;
}

}  // namespace
