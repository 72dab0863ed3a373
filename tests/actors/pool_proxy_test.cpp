// The cluster pool proxy under CAF's test coordinator: a real local quota_pool plays the
// owner's pool (the proxy only sees its interface), and a fake node answers peers_atom, so
// degraded mode and recovery run in virtual time without a second node.

#include "cluster/pool_proxy.hpp"
#include "actors/quota_pool.hpp"
#include "tests/actors/pool_client.hpp"
#include "tests/support/test_coordinator_fixture.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace streamgate {
namespace {

using namespace std::chrono_literals;

using test::client_actor;
using test::grant_record;
using test::pool_client;

// Only what the proxy asks of its node: the peers' overage (configurable per test), and
// the owner_lost notices it sends (recorded). Dynamically typed and cast to the node's
// interface, so that messages the node handles for others do not have to be faked here.
struct fake_node_state {
  std::uint32_t peers_overage = 0;
  int peers_asked = 0;
  std::vector<std::string> owner_lost;
};

caf::behavior fake_node(caf::stateful_actor<fake_node_state>* self) {
  return {
      [self](owner_lost_atom, const std::string& name) { self->state.owner_lost.push_back(name); },
      [self](peers_atom, const std::string&) {
        ++self->state.peers_asked;
        return self->state.peers_overage;
      },
  };
}

quota_options concurrent(std::uint32_t n) {
  quota_options o;
  o.max_concurrent = n;
  return o;
}

class pool_proxy_test : public test::coordinator_fixture {
 protected:
  // Another node's lease at `pool` (0 if refused): the room a test needs taken.
  std::uint64_t lease_for(caf::scoped_actor& other_node, const quota_pool_actor& pool) {
    other_node->send(pool, acquire_atom::value, std::uint32_t{0});
    sched->run();
    std::uint64_t id = 0;
    other_node->receive([&](quota_lease& l) { id = l.id; }, caf::after(0s) >> [] {});
    return id;
  }

  // The proxy starts degraded (no owner known yet); most tests connect an owner next.
  void make_proxy(quota_options limits, quota_options share) {
    node = keep(sys->spawn(fake_node));
    node_iface = caf::actor_cast<cluster_node_impl>(node);
    pool_proxy_options o;
    o.name = "p";
    o.limits = limits;
    o.share = share;
    o.request_timeout = 2s;
    o.poll_interval = 1s;
    o.reserve_hold = 5s;
    proxy = keep(sys->spawn(pool_proxy, o, node_iface, std::make_shared<quota_gauges>()));
    sched->run();
  }

  quota_pool_impl make_owner(quota_options o) {
    auto p = keep(sys->spawn(quota_pool, std::string{"p"}, o, std::make_shared<quota_gauges>()));
    sched->run();
    return p;
  }

  void connect(const quota_pool_impl& owner) {
    caf::anon_send(proxy, owner_atom::value, quota_pool_actor{owner});
    sched->run();
  }

  // Connects `owner` one message at a time and returns the most it held in reserve: the
  // rejoin's leases, which the reclaims that follow it use up, so it shows only in between.
  std::uint32_t connect_counting_reserve(const quota_pool_impl& owner) {
    caf::anon_send(proxy, owner_atom::value, quota_pool_actor{owner});
    std::uint32_t most = 0;
    while (sched->try_run_once()) most = std::max(most, pool_state(owner).reserved);
    sched->run();
    return most;
  }

  void kill(const caf::actor& a) {
    caf::anon_send_exit(a, caf::exit_reason::kill);
    sched->run();
  }

  template <class Handle>
  void kill(const Handle& h) {
    kill(caf::actor_cast<caf::actor>(h));
  }

  client_actor client(int id, std::uint32_t wait_ms = 0) {
    auto c = keep(sys->spawn(pool_client, quota_pool_actor{proxy}, wait_ms, id, &results, false));
    sched->run();
    return c;
  }

  void release(const client_actor& c) {
    caf::anon_send(c, release_atom::value);
    sched->run();
  }

  std::vector<int> granted_ids() const {
    std::vector<int> ids;
    for (auto& r : results)
      if (r.lease.granted) ids.push_back(r.client);
    return ids;
  }

  const grant_record* result_of(int id) const {
    for (auto& r : results)
      if (r.client == id) return &r;
    return nullptr;
  }

  pool_proxy_state& proxy_state() { return state_of<pool_proxy_state, pool_proxy_impl>(proxy); }
  quota_pool_state& pool_state(const quota_pool_control& p) {
    return state_of<quota_pool_state, quota_pool_impl>(p);
  }
  quota_pool_state& degraded_state() { return pool_state(proxy_state().degraded); }
  fake_node_state& node_state() {
    auto* a = caf::actor_cast<caf::abstract_actor*>(node);
    return dynamic_cast<caf::stateful_actor<fake_node_state>&>(*a).state;
  }

  std::size_t leases_held_by_proxy(const quota_pool_control& p) {
    auto addr = caf::actor_cast<caf::actor_addr>(proxy);
    auto& leases = pool_state(p).leases;
    return static_cast<std::size_t>(std::count_if(
        leases.begin(), leases.end(), [&](const auto& kv) { return kv.second == addr; }));
  }

  // Each held once, at the owner that serves now (not on its way there).
  bool all_leases_at_owner() {
    auto& st = proxy_state();
    if (!st.owner) return false;
    for (auto& [id, l] : st.leases)
      if (l.backend != st.owner || l.moving() || l.backend_id == 0) return false;
    return true;
  }

  std::uint32_t ask_overage() {
    caf::scoped_actor asker{*sys};
    asker->send(proxy, overage_atom::value);
    sched->run();
    std::uint32_t out = ~std::uint32_t{0};
    asker->receive([&](std::uint32_t n) { out = n; }, caf::after(0s) >> [] {});
    return out;
  }

  caf::actor node;
  cluster_node_impl node_iface;
  pool_proxy_impl proxy;
  std::vector<grant_record> results;
};

TEST_F(pool_proxy_test, an_acquire_is_granted_by_the_owner_to_the_proxy_and_released_there) {
  make_proxy(concurrent(2), concurrent(1));
  auto owner = make_owner(concurrent(2));
  connect(owner);
  ASSERT_FALSE(proxy_state().degraded_mode);
  ASSERT_FALSE(proxy_state().degraded);  // the startup pool is gone once the owner serves
  auto c = client(0);
  ASSERT_EQ(granted_ids(), (std::vector<int>{0}));
  // The owner monitors the proxy, not the session: a node that dies takes its leases along.
  auto& owner_leases = pool_state(owner).leases;
  ASSERT_EQ(owner_leases.size(), 1u);
  EXPECT_EQ(owner_leases.begin()->second, caf::actor_cast<caf::actor_addr>(proxy));
  EXPECT_NE(owner_leases.begin()->second, caf::actor_cast<caf::actor_addr>(c));
  ASSERT_EQ(proxy_state().leases.size(), 1u);
  EXPECT_TRUE(all_leases_at_owner());
  release(c);
  EXPECT_TRUE(pool_state(owner).leases.empty());
  EXPECT_TRUE(proxy_state().leases.empty());
  EXPECT_TRUE(proxy_state().holders.empty());
}

TEST_F(pool_proxy_test, the_owners_limit_holds_for_sessions_behind_the_proxy) {
  make_proxy(concurrent(2), concurrent(1));
  auto owner = make_owner(concurrent(2));
  connect(owner);
  client(0);
  client(1);
  client(2);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(granted_ids(), (std::vector<int>{0, 1}));
  EXPECT_FALSE(result_of(2)->lease.granted);
  EXPECT_GT(result_of(2)->lease.retry_after_ms, 0u);
  EXPECT_EQ(pool_state(owner).leases.size(), 2u);
  EXPECT_EQ(proxy_state().leases.size(), 2u);
  // A refused session holds nothing: monitoring it would only cost a down message.
  EXPECT_EQ(proxy_state().holders.size(), 2u);
}

TEST_F(pool_proxy_test, a_dead_holders_lease_is_released_at_the_owner) {
  make_proxy(concurrent(1), concurrent(1));
  auto owner = make_owner(concurrent(1));
  connect(owner);
  auto c = client(0);
  ASSERT_EQ(pool_state(owner).leases.size(), 1u);
  kill(c);
  // The owner does not monitor the session (the proxy is its holder): only the proxy's
  // monitor can free it.
  EXPECT_TRUE(pool_state(owner).leases.empty());
  EXPECT_TRUE(proxy_state().leases.empty());
  EXPECT_TRUE(proxy_state().holders.empty());
  client(1);
  EXPECT_EQ(granted_ids(), (std::vector<int>{0, 1}));
}

TEST_F(pool_proxy_test, a_dead_owner_means_degraded_mode_within_the_share_less_what_peers_hold) {
  make_proxy(concurrent(4), concurrent(2));
  auto owner = make_owner(concurrent(4));
  connect(owner);
  auto lost_before = node_state().owner_lost.size();
  client(0);
  ASSERT_EQ(granted_ids(), (std::vector<int>{0}));
  node_state().peers_overage = 1;
  kill(owner);
  auto& st = proxy_state();
  ASSERT_TRUE(st.degraded_mode);
  ASSERT_TRUE(st.degraded);
  EXPECT_FALSE(st.owner);
  ASSERT_EQ(node_state().owner_lost.size(), lost_before + 1);
  EXPECT_EQ(node_state().owner_lost.back(), "p");
  // The running stream's lease now lives in the degraded pool.
  ASSERT_EQ(st.leases.size(), 1u);
  auto& carried = st.leases.begin()->second;
  EXPECT_TRUE(carried.backend == quota_pool_actor{st.degraded});
  EXPECT_FALSE(carried.moving());
  EXPECT_NE(carried.backend_id, 0u);
  EXPECT_EQ(leases_held_by_proxy(st.degraded), 1u);
  EXPECT_EQ(degraded_state().held_back, 1u);
  // Share 2 − 1 carried − 1 the peers hold beyond theirs: no room.
  client(1);
  ASSERT_NE(result_of(1), nullptr);
  EXPECT_FALSE(result_of(1)->lease.granted);
  // The peers give theirs back; the next poll lifts the hold-back.
  node_state().peers_overage = 0;
  auto asked = node_state().peers_asked;
  advance(1s);
  EXPECT_GT(node_state().peers_asked, asked);
  EXPECT_EQ(degraded_state().held_back, 0u);
  client(2);
  client(3);
  EXPECT_EQ(granted_ids(), (std::vector<int>{0, 2}));
  EXPECT_EQ(leases_held_by_proxy(proxy_state().degraded), 2u);
}

TEST_F(pool_proxy_test, a_share_of_zero_refuses_at_once_while_degraded) {
  make_proxy(concurrent(1), concurrent(0));
  auto owner = make_owner(concurrent(1));
  connect(owner);
  kill(owner);
  ASSERT_TRUE(proxy_state().degraded_mode);
  EXPECT_FALSE(proxy_state().degraded);  // nothing to serve from
  // Even a session willing to wait is answered at once, not when its wait ends.
  client(0, 30000);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].lease.granted);
  EXPECT_GT(results[0].lease.retry_after_ms, 0u);
  EXPECT_TRUE(proxy_state().waiters.empty());
  EXPECT_TRUE(proxy_state().holders.empty());
}

TEST_F(pool_proxy_test, a_returning_owner_gets_the_rejoin_and_the_leases_back) {
  make_proxy(concurrent(3), concurrent(2));
  auto first = make_owner(concurrent(3));
  connect(first);
  auto c0 = client(0);  // granted by the first owner
  kill(first);
  auto c1 = client(1);  // granted in degraded mode
  ASSERT_EQ(granted_ids(), (std::vector<int>{0, 1}));
  ASSERT_TRUE(proxy_state().degraded_mode);

  auto second = make_owner(concurrent(3));
  auto most_reserved = connect_counting_reserve(second);
  // Both running streams were the proxy's while the owner was away; only the degraded
  // grant is new to the owner's rate window (the first owner counted its own, and is gone).
  EXPECT_EQ(most_reserved, 2u);
  EXPECT_EQ(pool_state(second).reserved, 0u);  // both reclaimed
  EXPECT_EQ(pool_state(second).window.size(), 1u);
  EXPECT_EQ(leases_held_by_proxy(second), 2u);
  auto& st = proxy_state();
  EXPECT_FALSE(st.degraded_mode);
  EXPECT_FALSE(st.degraded);
  ASSERT_EQ(st.leases.size(), 2u);
  EXPECT_TRUE(all_leases_at_owner());
  release(c0);
  EXPECT_EQ(leases_held_by_proxy(second), 1u);
  release(c1);
  EXPECT_TRUE(pool_state(second).leases.empty());
  EXPECT_TRUE(proxy_state().leases.empty());
}

TEST_F(pool_proxy_test, a_waiter_queued_at_a_dead_owner_is_served_by_the_degraded_pool) {
  make_proxy(concurrent(1), concurrent(1));
  auto owner = make_owner(concurrent(1));
  connect(owner);
  auto c0 = client(0);
  client(1, 10000);
  ASSERT_EQ(granted_ids(), (std::vector<int>{0}));
  ASSERT_EQ(pool_state(owner).queue.size(), 1u);
  kill(owner);
  // The dead owner's queue never answers: the waiter waits in the degraded pool now.
  ASSERT_TRUE(proxy_state().degraded_mode);
  ASSERT_EQ(proxy_state().waiters.size(), 1u);
  EXPECT_TRUE(proxy_state().waiters.begin()->second.backend ==
              quota_pool_actor{proxy_state().degraded});
  EXPECT_EQ(degraded_state().queue.size(), 1u);
  EXPECT_EQ(results.size(), 1u);
  advance(1s);
  EXPECT_EQ(results.size(), 1u);  // still waiting (its 10 s), not refused on the move
  release(c0);
  EXPECT_EQ(granted_ids(), (std::vector<int>{0, 1}));
  EXPECT_EQ(leases_held_by_proxy(proxy_state().degraded), 1u);
}

TEST_F(pool_proxy_test, a_waiter_queued_at_a_dead_owner_is_refused_by_its_own_deadline) {
  make_proxy(concurrent(1), concurrent(1));
  auto owner = make_owner(concurrent(1));
  connect(owner);
  client(0);
  client(1, 5000);
  advance(1s);
  kill(owner);
  // The wait it asked for counts from its acquire, not from the owner's death.
  advance(3900ms);
  EXPECT_EQ(results.size(), 1u);
  advance(200ms);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(result_of(1)->lease.granted);
  EXPECT_GT(result_of(1)->lease.retry_after_ms, 0u);
  EXPECT_TRUE(proxy_state().waiters.empty());
}

TEST_F(pool_proxy_test, the_overage_is_what_this_node_holds_beyond_its_share) {
  make_proxy(concurrent(4), concurrent(1));
  auto owner = make_owner(concurrent(4));
  connect(owner);
  EXPECT_EQ(ask_overage(), 0u);
  auto c0 = client(0);
  EXPECT_EQ(ask_overage(), 0u);  // at the share: nothing beyond it
  client(1);
  client(2);
  ASSERT_EQ(granted_ids(), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(ask_overage(), 2u);
  release(c0);
  EXPECT_EQ(ask_overage(), 1u);
}

TEST_F(pool_proxy_test, a_withdrawn_waiter_is_answered_at_once_and_a_late_grant_goes_back) {
  make_proxy(concurrent(1), concurrent(1));
  auto owner = make_owner(concurrent(1));
  connect(owner);
  auto c0 = client(0);
  auto c1 = client(1, 10000);
  ASSERT_EQ(results.size(), 1u);
  caf::anon_send(c1, withdraw_atom::value);
  sched->run();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].client, 1);
  EXPECT_FALSE(results[1].lease.granted);
  // The owner still has the proxy's request queued (it cannot tell whose it is) and grants it
  // on the release: the proxy gives that lease straight back.
  release(c0);
  EXPECT_TRUE(pool_state(owner).leases.empty());
  EXPECT_TRUE(proxy_state().leases.empty());
  EXPECT_TRUE(proxy_state().waiters.empty());
  EXPECT_TRUE(proxy_state().holders.empty());
  EXPECT_EQ(granted_ids(), (std::vector<int>{0}));
}

TEST_F(pool_proxy_test, a_lease_released_while_it_moves_is_given_back_when_the_move_lands) {
  make_proxy(concurrent(2), concurrent(2));
  auto owner = make_owner(concurrent(2));
  connect(owner);
  auto c0 = client(0);
  caf::anon_send_exit(owner, caf::exit_reason::kill);
  sched->prioritize(owner);
  sched->run_once();
  sched->prioritize(proxy);
  sched->run_once();  // the owner's down: the lease is on its way to the degraded pool
  ASSERT_TRUE(proxy_state().degraded);
  ASSERT_TRUE(proxy_state().leases.begin()->second.moving());
  // The release overtakes the degraded pool's answer to the reclaim.
  caf::anon_send(c0, release_atom::value);
  sched->prioritize(c0);
  sched->run_once();
  sched->run();
  EXPECT_TRUE(proxy_state().leases.empty());
  EXPECT_EQ(leases_held_by_proxy(proxy_state().degraded), 0u);
  client(1);
  client(2);
  EXPECT_EQ(granted_ids(), (std::vector<int>{0, 1, 2}));
}

TEST_F(pool_proxy_test, a_waiter_whose_session_dies_has_its_late_grant_given_back) {
  make_proxy(concurrent(1), concurrent(1));
  auto owner = make_owner(concurrent(1));
  connect(owner);
  auto c0 = client(0);
  auto c1 = client(1, 10000);
  kill(c1);
  EXPECT_TRUE(proxy_state().waiters.begin()->second.withdrawn);
  release(c0);
  EXPECT_TRUE(pool_state(owner).leases.empty());
  EXPECT_TRUE(proxy_state().leases.empty());
  EXPECT_TRUE(proxy_state().waiters.empty());
}

// An owner_atom with a null handle means "out of reach", not "dead": the owner may live on and
// still count the proxy's leases. They are released there as they move to the degraded pool;
// when the same owner is reached again, the rejoin reserves each once and its reclaim takes it.
TEST_F(pool_proxy_test,
       leases_at_an_owner_out_of_reach_are_released_there_and_held_once_on_its_return) {
  make_proxy(concurrent(2), concurrent(1));
  auto owner = make_owner(concurrent(2));
  connect(owner);
  auto c0 = client(0);
  caf::anon_send(proxy, owner_atom::value, quota_pool_actor{});
  sched->run();
  ASSERT_TRUE(proxy_state().degraded_mode);
  EXPECT_EQ(leases_held_by_proxy(owner), 0u);
  EXPECT_EQ(leases_held_by_proxy(proxy_state().degraded), 1u);
  EXPECT_EQ(connect_counting_reserve(owner), 1u);
  EXPECT_EQ(leases_held_by_proxy(owner), 1u);
  EXPECT_EQ(pool_state(owner).reserved, 0u);
  // The owner's own grant is in its window already: the rejoin adds no second one.
  EXPECT_EQ(pool_state(owner).window.size(), 1u);
  EXPECT_TRUE(all_leases_at_owner());
  release(c0);
  EXPECT_EQ(leases_held_by_proxy(owner), 0u);
  EXPECT_TRUE(proxy_state().leases.empty());
}

// Same null path with a waiter queued at the live owner: the proxy withdraws its requests
// there (they would hold a place in that queue until their deadlines) and asks the degraded
// pool instead. The owner's later room goes to nobody of this node's.
TEST_F(pool_proxy_test, a_waiter_queued_at_an_owner_out_of_reach_moves_to_the_degraded_pool) {
  make_proxy(concurrent(1), concurrent(1));
  auto owner = make_owner(concurrent(1));
  connect(owner);
  caf::scoped_actor other_node{*sys};
  auto other_lease = lease_for(other_node, owner);
  ASSERT_NE(other_lease, 0u);
  client(0, 10000);  // queued at the owner
  ASSERT_EQ(pool_state(owner).queue.size(), 1u);
  caf::anon_send(proxy, owner_atom::value, quota_pool_actor{});
  sched->run();
  EXPECT_TRUE(pool_state(owner).queue.empty());
  EXPECT_EQ(granted_ids(), (std::vector<int>{0}));
  EXPECT_EQ(leases_held_by_proxy(proxy_state().degraded), 1u);
  other_node->send(owner, release_atom::value, other_lease);
  sched->run();
  EXPECT_EQ(leases_held_by_proxy(owner), 0u);
  EXPECT_TRUE(pool_state(owner).leases.empty());
}

// The race the withdraw cannot close: the owner out of reach granted the queued request
// before it heard of the withdraw. That grant is nobody's now and goes back to that owner;
// the session holds one lease, from the degraded pool.
TEST_F(pool_proxy_test, a_grant_already_sent_by_an_owner_out_of_reach_is_given_back_to_it) {
  make_proxy(concurrent(1), concurrent(1));
  auto owner = make_owner(concurrent(1));
  connect(owner);
  caf::scoped_actor other_node{*sys};
  auto other_lease = lease_for(other_node, owner);
  ASSERT_NE(other_lease, 0u);
  client(0, 10000);  // queued at the owner
  caf::anon_send(proxy, owner_atom::value, quota_pool_actor{});
  other_node->send(owner, release_atom::value, other_lease);
  sched->prioritize(owner);
  sched->run_once();  // the owner grants the proxy's queued request
  ASSERT_EQ(leases_held_by_proxy(owner), 1u);
  sched->run();
  EXPECT_EQ(leases_held_by_proxy(owner), 0u);
  EXPECT_TRUE(pool_state(owner).leases.empty());
  EXPECT_EQ(granted_ids(), (std::vector<int>{0}));
  EXPECT_EQ(leases_held_by_proxy(proxy_state().degraded), 1u);
  EXPECT_EQ(proxy_state().leases.size(), 1u);
}

// A share of 0 and an owner that goes out of reach (null handle) while the proxy's reclaim to
// it is in flight: that reclaim is stale, its answer goes back to that owner, and the lease
// stays only counted here until the next owner reclaims it (and finds it in the rejoin).
TEST_F(pool_proxy_test,
       a_reclaim_answer_from_a_replaced_owner_goes_back_and_the_next_owner_gets_the_lease) {
  make_proxy(concurrent(2), concurrent(0));
  auto first = make_owner(concurrent(2));
  connect(first);
  client(0);
  kill(first);
  auto second = make_owner(concurrent(2));
  caf::anon_send(proxy, owner_atom::value, quota_pool_actor{second});
  sched->prioritize(proxy);
  sched->run_once();  // rejoin and reclaim on their way to the second owner
  caf::anon_send(proxy, owner_atom::value, quota_pool_actor{});
  sched->run();
  EXPECT_EQ(leases_held_by_proxy(second), 0u);
  auto third = make_owner(concurrent(2));
  EXPECT_EQ(connect_counting_reserve(third), 1u);
  EXPECT_EQ(leases_held_by_proxy(third), 1u);
  EXPECT_EQ(leases_held_by_proxy(second), 0u);
  EXPECT_TRUE(all_leases_at_owner());
}

// owner_atom(b) directly after owner a (the pool moved; a lives on): the lease is released at
// a and reclaimed at b, and its release goes to b with b's id, so that another node's lease
// at b stays.
TEST_F(pool_proxy_test, a_new_owner_in_place_of_a_live_one_gets_the_leases_and_their_releases) {
  make_proxy(concurrent(2), concurrent(1));
  auto a = make_owner(concurrent(2));
  connect(a);
  auto c0 = client(0);
  auto b = make_owner(concurrent(2));
  caf::scoped_actor other_node{*sys};
  ASSERT_NE(lease_for(other_node, b), 0u);
  ASSERT_EQ(pool_state(b).leases.size(), 1u);
  EXPECT_EQ(connect_counting_reserve(b), 1u);
  EXPECT_EQ(leases_held_by_proxy(a), 0u);
  EXPECT_EQ(leases_held_by_proxy(b), 1u);
  EXPECT_TRUE(all_leases_at_owner());
  release(c0);
  EXPECT_EQ(leases_held_by_proxy(b), 0u);
  EXPECT_EQ(pool_state(b).leases.size(), 1u);  // the other node's
}

// The same through the down path: owner a dies and owner b arrives before the degraded pool
// has answered the reclaim; a release in that window frees nothing of b's but what the proxy
// was granted for it.
TEST_F(pool_proxy_test, a_release_while_a_lease_moves_to_a_new_owner_frees_only_that_lease) {
  make_proxy(concurrent(3), concurrent(2));
  auto a = make_owner(concurrent(3));
  connect(a);
  auto c0 = client(0);
  auto b = make_owner(concurrent(3));
  caf::scoped_actor other_node{*sys};
  ASSERT_NE(lease_for(other_node, b), 0u);
  ASSERT_EQ(pool_state(b).leases.size(), 1u);
  caf::anon_send_exit(a, caf::exit_reason::kill);
  sched->prioritize(a);
  sched->run_once();  // a's down is queued at the proxy
  caf::anon_send(proxy, owner_atom::value, quota_pool_actor{b});
  caf::anon_send(c0, release_atom::value);
  sched->prioritize(c0);
  sched->run_once();  // the release is queued behind them
  sched->run();
  EXPECT_EQ(pool_state(b).leases.size(), 1u);  // the other node's
  EXPECT_EQ(leases_held_by_proxy(b), 0u);
  EXPECT_TRUE(proxy_state().leases.empty());
}

}  // namespace
}  // namespace streamgate
