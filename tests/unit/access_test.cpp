// Gateway keys, their limits, session ownership and per-client limits, against a fake
// engine: every rule allowed and refused, without sockets (the wire: integration/access_test).

#include "access/access_control.hpp"
#include "access/rate_window.hpp"
#include "actors/error_code.hpp"
#include "telemetry/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace streamgate {
namespace {

using namespace std::chrono_literals;

// Starts "sessions" that are only ids, keeping each one's observer so a test can play the
// events a session would log through it.
class fake_engine : public session_service {
 public:
  std::vector<model_info> models() const override { return {{"a", "x"}, {"b", "x"}}; }
  start_outcome start(chat_request, start_options opts) override {
    if (refuse) return {"", "too_many_sessions", "full"};
    auto id = "s" + std::to_string(++n);
    observers[id] = std::move(opts.observer);
    return {id, "", ""};
  }
  bool attach(const std::string& id, std::uint64_t, sink_ptr) override {
    return observers.count(id) != 0;
  }
  void detach(const std::string&, const sink_ptr&) override {}
  bool cancel(const std::string& id) override { return observers.count(id) != 0; }
  engine_counts counts() const override { return {}; }

  // The session logs `ev`; `end` lets it go (its resume window ran out).
  void log(const std::string& id, stream_event ev) {
    observers[id]->deliver(std::make_shared<const stream_event>(std::move(ev)));
  }
  void end(const std::string& id) { observers.erase(id); }

  std::map<std::string, sink_ptr> observers;
  bool refuse = false;
  int n = 0;
};

constexpr std::string_view key_a = "sk-team-a-0123456789abcdef";
constexpr std::string_view key_b = "sk-team-b-0123456789abcdef";

gateway_key make_key(const std::string& name, std::string_view key, key_limits l = {}) {
  gateway_key k;
  k.name = name;
  k.digest = sha256(key);
  k.limits = std::move(l);
  return k;
}

chat_request request_for(const std::string& model) {
  chat_request r;
  r.model = model;
  return r;
}

stream_event delta() {
  stream_event e;
  e.kind = event_kind::delta;
  e.text = "x";
  return e;
}

stream_event finish() {
  stream_event e;
  e.kind = event_kind::finish;
  return e;
}

const client_address remote{"192.0.2.7", false};
const client_address local{"127.0.0.1", true};

double series(const std::string& name) {
  auto text = metrics::registry::global().expose();
  auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

TEST(key_digest, sha256_of_a_known_text_and_its_hex) {
  // FIPS 180-2's "abc".
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  key_digest d{};
  EXPECT_TRUE(
      parse_hex_digest("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", d));
  EXPECT_TRUE(digests_equal(d, sha256("abc")));
  EXPECT_FALSE(digests_equal(d, sha256("abd")));
  EXPECT_FALSE(parse_hex_digest("abc", d));
  EXPECT_FALSE(parse_hex_digest(std::string(63, 'a') + "g", d));
}

TEST(rate_window, refills_evenly_and_says_when_to_come_back) {
  auto t0 = rate_window::clock::time_point{} + 1h;
  rate_window w{60, t0};  // one a second, a minute's worth at once
  for (int i = 0; i < 60; ++i) EXPECT_TRUE(w.take(t0));
  EXPECT_FALSE(w.take(t0));
  EXPECT_EQ(w.retry_after_s(t0), 1u);
  EXPECT_TRUE(w.take(t0 + 1s));
  EXPECT_FALSE(w.take(t0 + 1s));
  // Overdrawn by tokens counted after the fact: closed until the debt is paid.
  rate_window tokens{600, t0};
  tokens.charge(t0, 1200);
  EXPECT_FALSE(tokens.available(t0));
  EXPECT_EQ(tokens.retry_after_s(t0), 61u);  // 601 tokens at 10 a second
  EXPECT_TRUE(tokens.available(t0 + 61s));
  EXPECT_TRUE(rate_window{}.take(t0));  // 0: unlimited
}

class access_rules : public ::testing::Test {
 protected:
  access_control& with(std::vector<gateway_key> keys, client_limits per_client = {}) {
    access_config cfg;
    cfg.keys = std::move(keys);
    cfg.per_client = per_client;
    access.emplace(cfg, engine);
    return *access;
  }
  start_outcome start(const key_account* who, const std::string& model = "a",
                      const client_address& from = remote) {
    return access->start(*who, from, request_for(model), {});
  }

  fake_engine engine;
  std::optional<access_control> access;
};

TEST_F(access_rules, keys_are_recognised_by_bearer_and_nothing_else) {
  auto& a = with({make_key("team-a", key_a), make_key("team-b", key_b)});
  auto* ka = a.authenticate(access_control::bearer_token("Bearer " + std::string{key_a}));
  ASSERT_NE(ka, nullptr);
  EXPECT_EQ(a.name_of(*ka), "team-a");
  EXPECT_EQ(a.authenticate(access_control::bearer_token("bearer  " + std::string{key_b})),
            a.authenticate(key_b));
  EXPECT_EQ(a.authenticate(""), nullptr);
  EXPECT_EQ(a.authenticate("sk-team-a-0123456789abcdeF"), nullptr);
  EXPECT_EQ(access_control::bearer_token("Basic abc"), "");
  EXPECT_EQ(access_control::bearer_token("Bearer"), "");
}

TEST_F(access_rules, without_keys_everyone_is_the_anonymous_account) {
  auto& a = with({});
  auto* anyone = a.authenticate("");
  ASSERT_NE(anyone, nullptr);
  EXPECT_EQ(anyone, a.authenticate("whatever"));
  auto out = start(anyone);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(a.cancel(*anyone, out.session_id));  // no owner to check without keys
}

TEST_F(access_rules, a_session_belongs_to_the_key_that_started_it) {
  auto& a = with({make_key("team-a", key_a), make_key("team-b", key_b)});
  auto* ka = a.authenticate(key_a);
  auto* kb = a.authenticate(key_b);
  auto out = start(ka);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(a.attach(*ka, out.session_id, 0, nullptr));
  EXPECT_TRUE(a.cancel(*ka, out.session_id));
  // Another key learns nothing: the same answer as an id that does not exist.
  EXPECT_FALSE(a.attach(*kb, out.session_id, 0, nullptr));
  EXPECT_FALSE(a.cancel(*kb, out.session_id));
  EXPECT_FALSE(a.cancel(*ka, "s999"));
  // The session gone, its owner entry goes with it.
  engine.end(out.session_id);
  EXPECT_FALSE(a.cancel(*ka, out.session_id));
}

TEST_F(access_rules, sessions_per_minute_are_limited_per_key_with_retry_after) {
  key_limits l;
  l.rpm = 2;
  auto& a = with({make_key("team-a", key_a, l), make_key("team-b", key_b)});
  auto* ka = a.authenticate(key_a);
  EXPECT_TRUE(start(ka).ok());
  EXPECT_TRUE(start(ka).ok());
  auto third = start(ka);
  EXPECT_EQ(third.error_code, error_code::rate_limited);
  EXPECT_GE(third.retry_after_s, 1u);
  EXPECT_LE(third.retry_after_s, 30u);
  // One key's limit is not another's.
  EXPECT_TRUE(start(a.authenticate(key_b)).ok());
  // A start the engine refused does not count.
  engine.refuse = true;
  key_limits one;
  one.rpm = 1;
  auto& b = with({make_key("solo", key_a, one)});
  EXPECT_EQ(start(b.authenticate(key_a)).error_code, "too_many_sessions");
  engine.refuse = false;
  EXPECT_TRUE(start(b.authenticate(key_a)).ok());
}

TEST_F(access_rules, concurrent_streams_are_limited_and_given_back_at_the_terminal_event) {
  key_limits l;
  l.max_streams = 1;
  auto& a = with({make_key("team-a", key_a, l)});
  auto* ka = a.authenticate(key_a);
  auto first = start(ka);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(start(ka).error_code, error_code::stream_limit);
  engine.log(first.session_id, delta());
  EXPECT_EQ(start(ka).error_code, error_code::stream_limit);
  engine.log(first.session_id, finish());
  auto second = start(ka);
  ASSERT_TRUE(second.ok());
  // A session that goes without a terminal event (the engine shut down) gives it back too.
  engine.end(second.session_id);
  EXPECT_TRUE(start(ka).ok());
  EXPECT_EQ(series("streamgate_key_streams{key=\"team-a\"}"), 1);  // a gauge: back each time
}

TEST_F(access_rules, tokens_per_minute_count_estimates_then_usage) {
  key_limits l;
  l.tpm = 100;
  auto& a = with({make_key("team-a", key_a, l)});
  auto* ka = a.authenticate(key_a);
  // The registry is the process's: other tests of this binary count under the same name.
  const std::string tokens = "streamgate_key_tokens_total{key=\"team-a\"}";
  auto before = std::max(0.0, series(tokens));
  auto s = start(ka);
  ASSERT_TRUE(s.ok());
  for (int i = 0; i < 50; ++i) engine.log(s.session_id, delta());
  EXPECT_TRUE(start(ka).ok());  // 50 of 100 used
  stream_event usage;
  usage.kind = event_kind::usage;
  usage.usage.prompt_tokens = 80;
  usage.usage.completion_tokens = 50;
  engine.log(s.session_id, usage);  // the provider's count: 130, over the minute's 100
  auto refused = start(ka);
  EXPECT_EQ(refused.error_code, error_code::token_limit);
  EXPECT_GE(refused.retry_after_s, 18u);  // 31 tokens at 100 a minute
  EXPECT_EQ(series(tokens) - before, 130);
}

TEST_F(access_rules, a_key_uses_only_its_models) {
  key_limits l;
  l.models = {"a"};
  auto& a = with({make_key("team-a", key_a, l)});
  auto* ka = a.authenticate(key_a);
  EXPECT_TRUE(start(ka, "a").ok());
  EXPECT_EQ(start(ka, "b").error_code, error_code::model_not_allowed);
  auto models = a.models(*ka);
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].id, "a");
}

TEST_F(access_rules, websocket_streams_per_socket_are_the_lower_of_key_and_server) {
  key_limits l;
  l.streams_per_socket = 4;
  auto& a = with({make_key("team-a", key_a, l), make_key("team-b", key_b)});
  EXPECT_EQ(a.streams_per_socket(*a.authenticate(key_a), 32), 4u);
  EXPECT_EQ(a.streams_per_socket(*a.authenticate(key_a), 2), 2u);
  EXPECT_EQ(a.streams_per_socket(*a.authenticate(key_b), 32), 32u);
}

TEST_F(access_rules, connections_per_key_are_counted_while_their_tickets_live) {
  key_limits l;
  l.max_connections = 2;
  auto& a = with({make_key("team-a", key_a, l)});
  auto* ka = a.authenticate(key_a);
  auto t1 = a.bind_connection(*ka);
  auto t2 = a.bind_connection(*ka);
  EXPECT_TRUE(t1 && t2);
  EXPECT_FALSE(a.bind_connection(*ka));
  t1 = access_ticket{};
  EXPECT_TRUE(a.bind_connection(*ka));
}

TEST_F(access_rules, one_address_cannot_take_every_connection_or_session) {
  client_limits c;
  c.max_connections = 2;
  c.session_rpm = 3;
  {  // tickets go before their access_control does
    auto& a = with({}, c);
    auto* anyone = a.authenticate("");
    auto t1 = a.open_connection(remote);
    auto t2 = a.open_connection(remote);
    EXPECT_TRUE(t1 && t2);
    EXPECT_FALSE(a.open_connection(remote));
    EXPECT_TRUE(a.open_connection({"192.0.2.8", false}));  // another address
    EXPECT_TRUE(a.open_connection(local));                 // loopback is exempt
    t2 = access_ticket{};
    EXPECT_TRUE(a.open_connection(remote));
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(start(anyone, "a", remote).ok());
    auto refused = start(anyone, "a", remote);
    EXPECT_EQ(refused.error_code, error_code::client_rate_limited);
    EXPECT_GE(refused.retry_after_s, 1u);
    EXPECT_TRUE(start(anyone, "a", local).ok());
  }
  // Exempting loopback is a choice: without it, loopback is an address like any other.
  c.exempt_loopback = false;
  auto& strict = with({}, c);
  auto l1 = strict.open_connection(local);
  auto l2 = strict.open_connection(local);
  EXPECT_FALSE(strict.open_connection(local));
}

}  // namespace
}  // namespace streamgate
