// The cluster node under CAF's test coordinator. No network: a fake dialer stands in for the
// TLS middleman (it records what the node asks it to connect to and answers with an error or
// with a fake peer node), and the peers that say hello are local actors. Under the test
// coordinator every actor is on this node, so greeted() lets any sender through; the tests
// keep to what holds there.

#include "cluster/cluster_node.hpp"
#include "actors/quota_pool.hpp"
#include "telemetry/log.hpp"
#include "tests/support/test_coordinator_fixture.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace streamgate {
namespace {

// The node takes every pool's limits; these tests need only the names.
std::map<std::string, quota_options> limits_of(const std::vector<std::string>& pools) {
  std::map<std::string, quota_options> out;
  for (auto& name : pools) out[name].max_concurrent = 3;
  return out;
}

using namespace std::chrono_literals;

// What the node asked the dialer, as "host:port".
struct fake_dialer_state {
  std::vector<std::string> asked;
  // Addresses where a node is published; every other address cannot be reached.
  std::map<std::string, caf::actor> published;
};

caf::behavior fake_dialer(caf::stateful_actor<fake_dialer_state>* self) {
  return {
      [self](caf::connect_atom, std::string& host, std::uint16_t port)
          -> caf::result<caf::node_id, caf::strong_actor_ptr, std::set<std::string>> {
        auto address = host + ":" + std::to_string(port);
        self->state.asked.push_back(address);
        auto it = self->state.published.find(address);
        if (it == self->state.published.end())
          return caf::make_error(caf::sec::cannot_connect_to_node, "no route to " + address);
        return {self->node(), caf::actor_cast<caf::strong_actor_ptr>(it->second),
                std::set<std::string>{}};
      },
  };
}

struct hello_record {
  std::uint32_t version;
  std::string id;
  std::string digest;
};

// Another node as the dialling node sees it: answers hello with `answer_id` (or refuses when
// it is empty), and pool_atom with `pool`.
struct fake_peer_state {
  std::string answer_id;
  quota_pool_actor pool;
  std::uint32_t overage = 0;
  std::vector<hello_record> hellos;
  std::vector<std::string> pools_asked;
};

caf::behavior fake_peer(caf::stateful_actor<fake_peer_state>* self, std::string answer_id) {
  self->state.answer_id = std::move(answer_id);
  return {
      [self](hello_atom, std::uint32_t version, std::string& id,
             std::string& digest) -> caf::result<std::string> {
        self->state.hellos.push_back({version, id, digest});
        if (self->state.answer_id.empty())
          return caf::make_error(caf::sec::invalid_argument, "cluster configuration differs");
        return self->state.answer_id;
      },
      [self](pool_atom, std::string& name) -> caf::result<quota_pool_actor> {
        self->state.pools_asked.push_back(name);
        return self->state.pool;
      },
      [self](overage_atom, std::string&) -> caf::result<std::uint32_t> {
        return self->state.overage;
      },
  };
}

// This node's local face of a pool another node owns: records the owners it is told of.
struct fake_proxy_state {
  std::vector<quota_pool_actor> owners;
};

caf::behavior fake_proxy(caf::stateful_actor<fake_proxy_state>* self) {
  return {
      [self](owner_atom, quota_pool_actor& pool) { self->state.owners.push_back(pool); },
  };
}

// One request's outcome.
template <class T>
struct answer {
  bool done = false;
  T value{};
  caf::error error;
};

// The error's context as text (the string make_error was given).
std::string context_of(const caf::error& e) {
  auto& ctx = e.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) return ctx.get_as<std::string>(0);
  return "";
}

class cluster_node_test : public test::coordinator_fixture {
 protected:
  cluster_node_test() {
    options.enabled = true;
    options.node_id = "node-b";
    options.listen_host = "10.0.0.2";
    options.listen_port = 7002;
    options.peers = {
        {"node-a", "10.0.0.1", 7001}, {"node-c", "10.0.0.3", 7003}, {"node-d", "10.0.0.4", 7004}};
    options.owners = {{"p-b", "node-b"}, {"p-a", "node-a"}, {"p-c", "node-c"}};
    options.reconnect_interval = 500ms;
    options.request_timeout = 2s;
    // The node's log lines, kept for the tests (and off the terminal).
    log::route_to(log::level::info, [lines = log_lines](std::string_view line) {
      lines->push_back(nlohmann::json::parse(line));
    });
  }

  ~cluster_node_test() override {
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched->run();
    log::init(log::level::info);
  }

  // The log lines of `event` about peer `peer`.
  std::size_t logged(const std::string& event, const std::string& peer) const {
    std::size_t n = 0;
    for (auto& l : *log_lines) n += l.value("event", "") == event && l.value("peer", "") == peer;
    return n;
  }

  void start() {
    dialer_actor = keep(sys->spawn(fake_dialer));
    node = keep(sys->spawn(cluster_node, options, limits_of(pools),
                           caf::actor_cast<caf::io::middleman_actor>(dialer_actor), sessions));
    sched->run();
  }

  cluster_node_actor peer_face() const { return caf::actor_cast<cluster_node_actor>(node); }

  // Asks the node from a new local actor, which stays alive (it plays a peer's node: the node
  // monitors the one that said hello) until the test ends or kill() stops it.
  template <class T, class... Ts>
  std::shared_ptr<answer<T>> ask(caf::actor* asker, Ts... xs) {
    auto out = std::make_shared<answer<T>>();
    auto target = peer_face();
    auto a = keep(sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
      self->request(target, caf::infinite, xs...)
          .then(
              [out](T& v) {
                out->done = true;
                out->value = std::move(v);
              },
              [out](caf::error& e) {
                out->done = true;
                out->error = std::move(e);
              });
      return {[](int) {}};
    }));
    if (asker) *asker = a;
    sched->run();
    return out;
  }

  std::shared_ptr<answer<std::string>> hello(const std::string& their_id,
                                             std::uint32_t version = cluster_protocol_version,
                                             std::string digest = "", caf::actor* asker = nullptr) {
    if (digest.empty()) digest = options.agreement_digest(pools);
    return ask<std::string>(asker, hello_atom::value, version, their_id, digest);
  }

  // What the node answers its own pool proxy for the peers' overage of `pool_name`.
  std::shared_ptr<answer<std::uint32_t>> peers_overage(const std::string& pool_name) {
    auto out = std::make_shared<answer<std::uint32_t>>();
    auto target = node;
    keep(sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
      self->request(target, caf::infinite, peers_atom::value, pool_name)
          .then(
              [out](std::uint32_t n) {
                out->done = true;
                out->value = n;
              },
              [out](caf::error& e) {
                out->done = true;
                out->error = std::move(e);
              });
      return {[](int) {}};
    }));
    sched->run();
    return out;
  }

  std::shared_ptr<answer<quota_pool_actor>> pool(const std::string& name) {
    return ask<quota_pool_actor>(nullptr, pool_atom::value, name);
  }

  void kill(const caf::actor& a) {
    caf::anon_send_exit(a, caf::exit_reason::kill);
    sched->run();
  }

  // One reconnect interval of virtual time, and everything it causes.
  void next_round() {
    sched->advance_time(options.reconnect_interval);
    sched->run();
  }

  fake_dialer_state& dialer() {
    return dynamic_cast<caf::stateful_actor<fake_dialer_state>&>(
               *caf::actor_cast<caf::abstract_actor*>(dialer_actor))
        .state;
  }

  template <class State>
  State& dynamic_state(const caf::actor& a) {
    return dynamic_cast<caf::stateful_actor<State>&>(*caf::actor_cast<caf::abstract_actor*>(a))
        .state;
  }

  cluster_node_state& node_state() { return state_of<cluster_node_state>(node); }

  const peer_link& link(const std::string& id) {
    for (auto& p : node_state().peers)
      if (p.config.id == id) return p;
    throw std::runtime_error("no peer " + id);
  }

  // Publishes a fake peer node at `address` for the dialer; returns it.
  caf::actor publish_peer(const std::string& address, const std::string& answer_id) {
    auto peer = keep(sys->spawn(fake_peer, answer_id));
    dialer().published[address] = peer;
    return peer;
  }

  std::shared_ptr<std::vector<nlohmann::json>> log_lines =
      std::make_shared<std::vector<nlohmann::json>>();
  cluster_options options;
  std::vector<std::string> pools{"p-a", "p-b", "p-c", "p-hashed"};
  std::shared_ptr<cluster_sessions> sessions = std::make_shared<cluster_sessions>();
  caf::actor dialer_actor;
  cluster_node_impl node;
};

TEST_F(cluster_node_test, dials_only_the_peers_with_greater_ids) {
  start();
  // node-b dials node-c and node-d; node-a dials node-b.
  EXPECT_EQ(dialer().asked, (std::vector<std::string>{"10.0.0.3:7003", "10.0.0.4:7004"}));
  for (auto id : {"node-a", "node-c", "node-d"}) EXPECT_FALSE(sessions->connected(id)) << id;
  // Unreachable peers are dialled again every reconnect interval, the lower one never.
  next_round();
  EXPECT_EQ(dialer().asked, (std::vector<std::string>{"10.0.0.3:7003", "10.0.0.4:7004",
                                                      "10.0.0.3:7003", "10.0.0.4:7004"}));
  next_round();
  EXPECT_EQ(dialer().asked.size(), 6u);
  for (auto& p : node_state().peers) {
    EXPECT_FALSE(p.handle) << p.config.id;
    EXPECT_FALSE(p.dialing) << p.config.id;
  }
  EXPECT_FALSE(link("node-c").last_problem.empty());
}

TEST_F(cluster_node_test, the_lowest_node_dials_all_and_the_highest_none) {
  options.node_id = "node-0";
  options.peers = {{"node-b", "10.0.0.2", 7002}, {"node-a", "10.0.0.1", 7001}};
  options.owners.clear();
  start();
  EXPECT_EQ(dialer().asked, (std::vector<std::string>{"10.0.0.2:7002", "10.0.0.1:7001"}));

  dialer().asked.clear();
  options.node_id = "node-z";
  auto top = keep(sys->spawn(cluster_node, options, limits_of(pools),
                             caf::actor_cast<caf::io::middleman_actor>(dialer_actor),
                             std::make_shared<cluster_sessions>()));
  sched->run();
  next_round();
  // Only node-0 dialled again (its round); node-z asked for nothing.
  EXPECT_EQ(dialer().asked, (std::vector<std::string>{"10.0.0.2:7002", "10.0.0.1:7001"}));
  (void)top;
}

TEST_F(cluster_node_test, a_hello_of_another_protocol_version_is_refused) {
  start();
  auto a = hello("node-a", cluster_protocol_version + 1);
  ASSERT_TRUE(a->done);
  ASSERT_TRUE(a->error);
  EXPECT_EQ(a->error.category(), caf::atom("system"));
  EXPECT_EQ(a->error.code(), static_cast<std::uint8_t>(caf::sec::incompatible_versions));
  auto context = context_of(a->error);
  EXPECT_NE(context.find("version " + std::to_string(cluster_protocol_version + 1)),
            std::string::npos)
      << context;
  EXPECT_FALSE(sessions->connected("node-a"));
  EXPECT_FALSE(link("node-a").handle);
  EXPECT_TRUE(node_state().greeted.empty());
}

TEST_F(cluster_node_test, a_hello_with_another_configuration_is_refused) {
  start();
  auto a = hello("node-a", cluster_protocol_version, "0000000000000000");
  ASSERT_TRUE(a->done);
  ASSERT_TRUE(a->error);
  EXPECT_EQ(a->error.category(), caf::atom("system"));
  EXPECT_EQ(a->error.code(), static_cast<std::uint8_t>(caf::sec::invalid_argument));
  EXPECT_NE(context_of(a->error).find("configuration differs"), std::string::npos);
  EXPECT_FALSE(sessions->connected("node-a"));

  // The digest of a cluster where p-a has another owner differs as well.
  auto other = options;
  other.owners["p-a"] = "node-d";
  auto b = hello("node-a", cluster_protocol_version, other.agreement_digest(pools));
  ASSERT_TRUE(b->done);
  EXPECT_EQ(b->error.code(), static_cast<std::uint8_t>(caf::sec::invalid_argument));
  EXPECT_FALSE(sessions->connected("node-a"));
  EXPECT_TRUE(node_state().greeted.empty());
}

TEST_F(cluster_node_test, a_matching_hello_is_answered_with_the_node_id) {
  start();
  auto a = hello("node-a");
  ASSERT_TRUE(a->done);
  EXPECT_FALSE(a->error) << sys->render(a->error);
  EXPECT_EQ(a->value, "node-b");
  EXPECT_EQ(node_state().greeted.size(), 1u);
}

TEST_F(cluster_node_test, the_dialled_node_learns_its_peer_from_the_hello) {
  start();
  caf::actor peer_a;
  auto a = hello("node-a", cluster_protocol_version, "", &peer_a);
  ASSERT_TRUE(a->done);
  EXPECT_EQ(a->value, "node-b");
  EXPECT_TRUE(sessions->connected("node-a"));
  EXPECT_FALSE(sessions->connected("node-c"));
  EXPECT_FALSE(sessions->connected("node-d"));
  EXPECT_EQ(caf::actor_cast<caf::actor_addr>(link("node-a").handle),
            caf::actor_cast<caf::actor_addr>(peer_a));

  // A second hello from node-a's CAF node keeps the first connection (a restarted peer is
  // another CAF node, and replaces it: tests/cluster covers that with real processes).
  caf::actor again;
  auto b = hello("node-a", cluster_protocol_version, "", &again);
  EXPECT_EQ(b->value, "node-b");
  EXPECT_EQ(caf::actor_cast<caf::actor_addr>(link("node-a").handle),
            caf::actor_cast<caf::actor_addr>(peer_a));

  // The peer's node goes away: no longer connected.
  kill(peer_a);
  EXPECT_FALSE(sessions->connected("node-a"));
  EXPECT_FALSE(link("node-a").handle);
  EXPECT_EQ(link("node-a").last_problem, "down");
}

TEST_F(cluster_node_test, a_hello_from_an_id_that_is_no_peer_connects_nothing) {
  start();
  auto a = hello("node-x");
  ASSERT_TRUE(a->done);
  for (auto id : {"node-a", "node-c", "node-d", "node-x"})
    EXPECT_FALSE(sessions->connected(id)) << id;
}

TEST_F(cluster_node_test, a_peer_that_says_hello_first_is_not_dialled) {
  start();
  ASSERT_EQ(dialer().asked.size(), 2u);
  // node-c says hello before node-b's dial reached it (the dial failed here).
  auto a = hello("node-c");
  EXPECT_EQ(a->value, "node-b");
  EXPECT_TRUE(sessions->connected("node-c"));
  dialer().asked.clear();
  next_round();
  EXPECT_EQ(dialer().asked, std::vector<std::string>{"10.0.0.4:7004"});
}

TEST_F(cluster_node_test, a_dialled_peer_that_answers_the_hello_is_connected) {
  dialer_actor = keep(sys->spawn(fake_dialer));
  auto peer_c = publish_peer("10.0.0.3:7003", "node-c");
  node = keep(sys->spawn(cluster_node, options, limits_of(pools),
                         caf::actor_cast<caf::io::middleman_actor>(dialer_actor), sessions));
  sched->run();
  auto& hellos = dynamic_state<fake_peer_state>(peer_c).hellos;
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_EQ(hellos[0].version, cluster_protocol_version);
  EXPECT_EQ(hellos[0].id, "node-b");
  EXPECT_EQ(hellos[0].digest, options.agreement_digest(pools));
  EXPECT_TRUE(sessions->connected("node-c"));
  EXPECT_FALSE(sessions->connected("node-d"));
  EXPECT_TRUE(link("node-c").last_problem.empty());

  // Connected peers are not dialled again; node-d still is.
  dialer().asked.clear();
  next_round();
  EXPECT_EQ(dialer().asked, std::vector<std::string>{"10.0.0.4:7004"});

  // node-c goes down: dialled again on the next round.
  kill(peer_c);
  EXPECT_FALSE(sessions->connected("node-c"));
  dialer().asked.clear();
  next_round();
  EXPECT_EQ(dialer().asked, (std::vector<std::string>{"10.0.0.3:7003", "10.0.0.4:7004"}));
}

TEST_F(cluster_node_test, a_dialled_node_of_another_id_or_configuration_is_not_connected) {
  dialer_actor = keep(sys->spawn(fake_dialer));
  auto impostor = publish_peer("10.0.0.3:7003", "node-x");
  auto refuser = publish_peer("10.0.0.4:7004", "");
  node = keep(sys->spawn(cluster_node, options, limits_of(pools),
                         caf::actor_cast<caf::io::middleman_actor>(dialer_actor), sessions));
  sched->run();
  EXPECT_EQ(dynamic_state<fake_peer_state>(impostor).hellos.size(), 1u);
  EXPECT_EQ(dynamic_state<fake_peer_state>(refuser).hellos.size(), 1u);
  EXPECT_FALSE(sessions->connected("node-c"));
  EXPECT_FALSE(sessions->connected("node-x"));
  EXPECT_FALSE(sessions->connected("node-d"));
  EXPECT_NE(link("node-c").last_problem.find("node-x"), std::string::npos)
      << link("node-c").last_problem;
  EXPECT_NE(link("node-d").last_problem.find("refused"), std::string::npos)
      << link("node-d").last_problem;
  // Both are tried again.
  next_round();
  EXPECT_EQ(dynamic_state<fake_peer_state>(impostor).hellos.size(), 2u);
  EXPECT_EQ(dynamic_state<fake_peer_state>(refuser).hellos.size(), 2u);
}

TEST_F(cluster_node_test, hands_out_the_pools_it_owns_and_no_others) {
  start();
  auto owned = keep(sys->spawn(quota_pool, std::string{"p-b"}, quota_options{},
                               std::make_shared<quota_gauges>()));
  sched->run();
  caf::anon_send(node, own_atom::value, std::string{"p-b"}, quota_pool_control{owned});
  sched->run();
  ASSERT_TRUE(hello("node-a")->done);

  auto a = pool("p-b");
  ASSERT_TRUE(a->done);
  EXPECT_FALSE(a->error) << sys->render(a->error);
  EXPECT_EQ(caf::actor_cast<caf::actor_addr>(a->value), caf::actor_cast<caf::actor_addr>(owned));

  auto b = pool("p-a");
  ASSERT_TRUE(b->done);
  ASSERT_TRUE(b->error);
  EXPECT_EQ(b->error.code(), static_cast<std::uint8_t>(caf::sec::invalid_argument));
  EXPECT_NE(context_of(b->error).find("p-a"), std::string::npos);
  EXPECT_FALSE(b->value);

  // A pool the node was never told of, even one it would own.
  auto c = pool("p-unknown");
  ASSERT_TRUE(c->done);
  EXPECT_TRUE(c->error);
}

TEST_F(cluster_node_test, a_restarted_pool_replaces_the_old_handle) {
  start();
  auto first = keep(sys->spawn(quota_pool, std::string{"p-b"}, quota_options{},
                               std::make_shared<quota_gauges>()));
  auto second = keep(sys->spawn(quota_pool, std::string{"p-b"}, quota_options{},
                                std::make_shared<quota_gauges>()));
  sched->run();
  caf::anon_send(node, own_atom::value, std::string{"p-b"}, quota_pool_control{first});
  caf::anon_send(node, own_atom::value, std::string{"p-b"}, quota_pool_control{second});
  sched->run();
  auto a = pool("p-b");
  ASSERT_TRUE(a->done);
  EXPECT_EQ(caf::actor_cast<caf::actor_addr>(a->value), caf::actor_cast<caf::actor_addr>(second));
}

TEST_F(cluster_node_test, a_connected_owner_is_asked_for_its_pools_for_the_proxies) {
  dialer_actor = keep(sys->spawn(fake_dialer));
  auto owner_pool = keep(sys->spawn(quota_pool, std::string{"p-c"}, quota_options{},
                                    std::make_shared<quota_gauges>()));
  auto peer_c = publish_peer("10.0.0.3:7003", "node-c");
  dynamic_state<fake_peer_state>(peer_c).pool = quota_pool_actor{owner_pool};
  node = keep(sys->spawn(cluster_node, options, limits_of(pools),
                         caf::actor_cast<caf::io::middleman_actor>(dialer_actor), sessions));
  // The engine registers its proxies before the peer answers.
  auto proxy_c = keep(sys->spawn(fake_proxy));
  auto proxy_a = keep(sys->spawn(fake_proxy));
  caf::anon_send(node, proxy_atom::value, std::string{"p-c"},
                 caf::actor_cast<pool_proxy_actor>(proxy_c));
  caf::anon_send(node, proxy_atom::value, std::string{"p-a"},
                 caf::actor_cast<pool_proxy_actor>(proxy_a));
  sched->run();
  ASSERT_TRUE(sessions->connected("node-c"));
  auto& asked = dynamic_state<fake_peer_state>(peer_c).pools_asked;
  // node-c is asked only for the pool it owns.
  ASSERT_FALSE(asked.empty());
  for (auto& name : asked) EXPECT_EQ(name, "p-c");
  auto& told = dynamic_state<fake_proxy_state>(proxy_c).owners;
  ASSERT_FALSE(told.empty());
  for (auto& p : told)
    EXPECT_EQ(caf::actor_cast<caf::actor_addr>(p), caf::actor_cast<caf::actor_addr>(owner_pool));
  // node-a (not connected) owns p-a: its proxy hears nothing.
  EXPECT_TRUE(dynamic_state<fake_proxy_state>(proxy_a).owners.empty());
}

TEST_F(cluster_node_test, an_unreachable_peer_is_logged_once_per_problem_not_per_dial) {
  start();
  next_round();
  next_round();
  EXPECT_EQ(dialer().asked.size(), 6u);
  EXPECT_EQ(logged("cluster_peer_unreachable", "node-c"), 1u);
  EXPECT_EQ(logged("cluster_peer_unreachable", "node-d"), 1u);
  EXPECT_EQ(logged("cluster_peer_unreachable", "node-a"), 0u);

  // Another problem is logged again: node-c is now there, but refuses.
  publish_peer("10.0.0.3:7003", "");
  next_round();
  next_round();
  EXPECT_EQ(logged("cluster_peer_unreachable", "node-c"), 2u);
  EXPECT_EQ(logged("cluster_peer_unreachable", "node-d"), 1u);
}

TEST_F(cluster_node_test, a_refused_hello_is_logged_with_both_versions) {
  start();
  hello("node-a", cluster_protocol_version + 1);
  ASSERT_EQ(logged("cluster_peer_refused", "node-a"), 1u);
  for (auto& l : *log_lines) {
    if (l.value("event", "") != "cluster_peer_refused") continue;
    EXPECT_EQ(l.value("their_version", 0u), cluster_protocol_version + 1);
    EXPECT_EQ(l.value("our_version", 0u), cluster_protocol_version);
  }
}

TEST_F(cluster_node_test, peers_overage_sums_what_the_connected_peers_report) {
  dialer_actor = keep(sys->spawn(fake_dialer));
  auto peer_c = publish_peer("10.0.0.3:7003", "node-c");
  auto peer_d = publish_peer("10.0.0.4:7004", "node-d");
  dynamic_state<fake_peer_state>(peer_c).overage = 3;
  dynamic_state<fake_peer_state>(peer_d).overage = 4;
  node = keep(sys->spawn(cluster_node, options, limits_of(pools),
                         caf::actor_cast<caf::io::middleman_actor>(dialer_actor), sessions));
  sched->run();
  ASSERT_TRUE(sessions->connected("node-c"));
  ASSERT_TRUE(sessions->connected("node-d"));
  auto a = peers_overage("p-a");
  ASSERT_TRUE(a->done);
  EXPECT_FALSE(a->error) << sys->render(a->error);
  EXPECT_EQ(a->value, 7u);
  // A peer that went away is not asked.
  kill(peer_d);
  auto b = peers_overage("p-a");
  ASSERT_TRUE(b->done);
  EXPECT_EQ(b->value, 3u);
}

// The degraded pool of a proxy holds back its whole share until this first answer
// (pool_proxy.cpp, start_degraded), so a node whose peers are all out of reach, such as the
// other node of a pair whose owner died, must still be answered: nothing beyond shares.
TEST_F(cluster_node_test, peers_overage_is_answered_without_connected_peers) {
  start();
  auto a = peers_overage("p-a");
  EXPECT_TRUE(a->done) << "peers_atom was never answered";
  EXPECT_FALSE(a->error) << sys->render(a->error);
  EXPECT_EQ(a->value, 0u);
}

// Disabled: it crashes the process today. A hello without a sender (anon_send; over BASP, a
// peer's anonymous message) from a configured peer id reaches on_greeted with a null handle,
// which dereferences it (handle->node()). Enable once the node ignores or refuses it.
TEST_F(cluster_node_test, an_anonymous_hello_connects_nothing) {
  start();
  caf::anon_send(peer_face(), hello_atom::value, cluster_protocol_version, std::string{"node-a"},
                 options.agreement_digest(pools));
  sched->run();
  EXPECT_FALSE(sessions->connected("node-a"));
  EXPECT_FALSE(link("node-a").handle);
}

}  // namespace
}  // namespace streamgate
