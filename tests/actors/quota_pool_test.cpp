// The quota pool's arithmetic under CAF's test coordinator: virtual time, no sleeps.

#include "actors/quota_pool.hpp"
#include "tests/actors/pool_client.hpp"
#include "tests/support/test_coordinator_fixture.hpp"

namespace streamgate {
namespace {

using namespace std::chrono_literals;

using test::client_actor;
using test::grant_record;
using test::pool_client;

class quota_pool_test : public test::coordinator_fixture {
 protected:
  quota_pool_actor make_pool(quota_options o) {
    gauges = std::make_shared<quota_gauges>();
    pool = keep(sys->spawn(quota_pool, std::string{"p"}, o, gauges));
    sched->run();
    return pool;
  }

  client_actor client(int id, std::uint32_t wait_ms = 60000, bool release_at_once = false) {
    auto c = keep(sys->spawn(pool_client, pool, wait_ms, id, &results, release_at_once));
    sched->run();
    return c;
  }

  std::vector<int> granted_ids() const {
    std::vector<int> ids;
    for (auto& r : results)
      if (r.lease.granted) ids.push_back(r.client);
    return ids;
  }

  quota_pool_state& pool_state() { return state_of<quota_pool_state, quota_pool_impl>(pool); }

  quota_pool_actor pool;
  quota_gauges_ptr gauges;
  std::vector<grant_record> results;
};

TEST_F(quota_pool_test, grants_up_to_the_concurrency_limit_then_queues_first_come_first_served) {
  quota_options o;
  o.max_concurrent = 2;
  make_pool(o);
  std::vector<client_actor> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(client(i));
  EXPECT_EQ(granted_ids(), (std::vector<int>{0, 1}));
  EXPECT_EQ(gauges->leases_in_use.load(), 2);
  EXPECT_EQ(gauges->queue_length.load(), 3);

  // Releases in a different order than the grants: the queue still goes 2, 3, 4.
  caf::anon_send(clients[1], release_atom::value);
  sched->run();
  caf::anon_send(clients[0], release_atom::value);
  sched->run();
  caf::anon_send(clients[2], release_atom::value);
  sched->run();
  EXPECT_EQ(granted_ids(), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(gauges->leases_in_use.load(), 2);
  EXPECT_EQ(gauges->queue_length.load(), 0);
}

TEST_F(quota_pool_test, a_queued_request_gets_quota_exhausted_at_its_deadline) {
  quota_options o;
  o.max_concurrent = 1;
  o.queue_timeout = 10s;
  make_pool(o);
  client(0);
  client(1, 500);
  ASSERT_EQ(results.size(), 1u);
  advance(490ms);
  EXPECT_EQ(results.size(), 1u);  // still waiting
  advance(20ms);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(results[1].lease.granted);
  EXPECT_GT(results[1].lease.retry_after_ms, 0u);
  EXPECT_EQ(gauges->queue_length.load(), 0);
  EXPECT_EQ(gauges->expired_total.load(), 1u);
  EXPECT_EQ(gauges->refused_total.load(), 0u);
}

TEST_F(quota_pool_test, the_pool_queue_timeout_caps_what_a_caller_asks_for) {
  quota_options o;
  o.max_concurrent = 1;
  o.queue_timeout = 200ms;
  make_pool(o);
  client(0);
  client(1, 60000);
  advance(210ms);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(results[1].lease.granted);
}

TEST_F(quota_pool_test, no_wait_means_an_answer_at_once_and_a_full_queue_refuses) {
  quota_options o;
  o.max_concurrent = 1;
  o.max_queue = 1;
  make_pool(o);
  client(0);
  client(1, 0);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(results[1].lease.granted);
  EXPECT_EQ(results[1].lease.retry_after_ms, 1000u);  // concurrency: nobody knows when
  client(2);                                          // queued
  client(3);                                          // the queue holds one
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[2].client, 3);
  EXPECT_FALSE(results[2].lease.granted);
}

TEST_F(quota_pool_test, the_rpm_limit_holds_in_every_sixty_second_window) {
  quota_options o;
  o.rpm = 5;
  o.queue_timeout = 600s;
  make_pool(o);
  // 30 requests arriving every 1.5 s, each released at once: only the rate limits them.
  for (int i = 0; i < 30; ++i) {
    client(i, 600000, true);
    advance(1500ms, 100ms);
  }
  advance(400s, 100ms);
  ASSERT_EQ(granted_ids().size(), 30u);
  std::vector<int> expected(30);
  for (int i = 0; i < 30; ++i) expected[i] = i;
  EXPECT_EQ(granted_ids(), expected);  // FIFO under the rate limit too
  for (std::size_t i = 0; i < results.size(); ++i) {
    int in_window = 0;
    for (std::size_t j = 0; j <= i; ++j) in_window += results[i].at - results[j].at < 60s ? 1 : 0;
    EXPECT_LE(in_window, 5) << "grant " << i;
  }
  // The sliding window is used to the full: the sixth grant comes exactly 60 s after the first.
  EXPECT_EQ(results[5].at - results[0].at, 60s);
}

TEST_F(quota_pool_test, an_idle_pool_grants_its_whole_minute_as_a_burst_and_says_when_more_comes) {
  quota_options o;
  o.rpm = 3;
  make_pool(o);
  for (int i = 0; i < 3; ++i) client(i, 0, true);
  EXPECT_EQ(granted_ids().size(), 3u);
  advance(10s, 1s);
  client(3, 0);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_FALSE(results[3].lease.granted);
  EXPECT_EQ(results[3].lease.retry_after_ms, 50000u);
  EXPECT_EQ(gauges->rpm_used.load(), 3);
  advance(50s, 1s);  // the admin view's figure follows the window without any traffic
  EXPECT_EQ(gauges->rpm_used.load(), 0);
}

TEST_F(quota_pool_test, a_killed_lease_holder_frees_its_lease_for_the_next_in_line) {
  quota_options o;
  o.max_concurrent = 1;
  make_pool(o);
  auto holder = client(0);
  client(1);
  ASSERT_EQ(granted_ids(), (std::vector<int>{0}));
  caf::anon_send_exit(holder, caf::exit_reason::kill);
  sched->run();
  EXPECT_EQ(granted_ids(), (std::vector<int>{0, 1}));
  EXPECT_EQ(gauges->reclaimed_total.load(), 1u);
  EXPECT_EQ(gauges->leases_in_use.load(), 1);
  EXPECT_EQ(pool_state().holders.size(), 1u);  // the dead one is no longer monitored
}

TEST_F(quota_pool_test, a_killed_waiter_leaves_the_queue) {
  quota_options o;
  o.max_concurrent = 1;
  make_pool(o);
  auto holder = client(0);
  auto waiter = client(1);
  client(2);
  caf::anon_send_exit(waiter, caf::exit_reason::kill);
  sched->run();
  EXPECT_EQ(gauges->queue_length.load(), 1);
  caf::anon_send(holder, release_atom::value);
  sched->run();
  EXPECT_EQ(granted_ids(), (std::vector<int>{0, 2}));
}

TEST_F(quota_pool_test, a_waiter_that_withdraws_leaves_the_queue_at_once_and_frees_its_place) {
  quota_options o;
  o.max_concurrent = 1;
  o.max_queue = 1;
  make_pool(o);
  auto holder = client(0);
  auto leaving = client(1);
  ASSERT_EQ(gauges->queue_length.load(), 1);
  caf::anon_send(leaving, withdraw_atom::value);
  sched->run();
  // Gone now, not at its deadline; its answer says no lease, and is not counted a refusal.
  EXPECT_EQ(gauges->queue_length.load(), 0);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].client, 1);
  EXPECT_FALSE(results[1].lease.granted);
  EXPECT_EQ(gauges->refused_total.load(), 0u);
  EXPECT_EQ(pool_state().holders.size(), 1u);  // only the lease holder is still monitored
  // Its place in the full queue is free: the next request waits instead of being refused.
  client(2);
  EXPECT_EQ(gauges->queue_length.load(), 1);
  EXPECT_EQ(gauges->refused_total.load(), 0u);
  caf::anon_send(holder, release_atom::value);
  sched->run();
  EXPECT_EQ(granted_ids(), (std::vector<int>{0, 2}));
  // A second withdraw, with nothing queued, changes nothing.
  caf::anon_send(leaving, withdraw_atom::value);
  sched->run();
  EXPECT_EQ(gauges->leases_in_use.load(), 1);
  EXPECT_EQ(gauges->queue_length.load(), 0);
}

TEST_F(quota_pool_test, an_upstream_retry_after_pauses_the_pool) {
  make_pool({});
  caf::anon_send(pool, pause_atom::value, std::uint32_t{2000});
  sched->run();
  client(0, 0);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].lease.granted);
  EXPECT_EQ(results[0].lease.retry_after_ms, 2000u);
  client(1, 10000);
  advance(1900ms, 100ms);
  EXPECT_EQ(granted_ids().size(), 0u);
  advance(200ms, 100ms);
  EXPECT_EQ(granted_ids(), (std::vector<int>{1}));
  EXPECT_EQ(gauges->paused_ms.load(), 0);
}

TEST_F(quota_pool_test, the_end_of_a_pause_shows_without_traffic) {
  make_pool({});
  caf::anon_send(pool, pause_atom::value, std::uint32_t{500});
  sched->run();
  EXPECT_EQ(gauges->paused_ms.load(), 500);
  EXPECT_EQ(gauges->free_share(), 0.0);
  advance(510ms);
  EXPECT_EQ(gauges->paused_ms.load(), 0);
  EXPECT_EQ(gauges->free_share(), 1.0);
}

TEST_F(quota_pool_test, releasing_twice_or_an_unknown_lease_changes_nothing) {
  quota_options o;
  o.max_concurrent = 2;
  make_pool(o);
  client(0);
  client(1);
  auto id = results[0].lease.id;
  caf::anon_send(pool, release_atom::value, id);
  caf::anon_send(pool, release_atom::value, id);
  caf::anon_send(pool, release_atom::value, std::uint64_t{9999});
  sched->run();
  EXPECT_EQ(gauges->leases_in_use.load(), 1);
}

}  // namespace
}  // namespace streamgate

namespace streamgate {
namespace {

using namespace std::chrono_literals;

// A pool that took over from one that crashed (the engine's restart_pool): what it carried
// over counts against its limits until holders reclaim it or the reclaim window ends.
class restarted_pool_test : public quota_pool_test {
 protected:
  void make_restarted(quota_options o, quota_carry carry) {
    gauges = std::make_shared<quota_gauges>();
    pool = keep(sys->spawn(restarted_quota_pool, std::string{"p"}, o, gauges, carry));
    sched->run();
  }

  // A holder of the dead pool's lease asks for it back.
  quota_lease reclaim(caf::scoped_actor& holder) {
    holder->send(pool, reclaim_atom::value);
    sched->run();
    quota_lease out;
    holder->receive([&](quota_lease& l) { out = l; }, caf::after(0s) >> [] {});
    return out;
  }
};

TEST_F(restarted_pool_test, carried_leases_count_until_reclaimed_or_the_window_ends) {
  quota_options o;
  o.max_concurrent = 2;
  make_restarted(o, {2, 0, 1s, 1});
  client(0);  // a new request: no room, both places are carried over
  EXPECT_TRUE(results.empty());
  EXPECT_EQ(gauges->leases_in_use.load(), 2);
  caf::scoped_actor holder{*sys};
  auto lease = reclaim(holder);
  ASSERT_TRUE(lease.granted);
  EXPECT_GE(lease.id, std::uint64_t{1} << 40);  // never an id the dead pool handed out
  EXPECT_EQ(pool_state().reserved, 1u);
  EXPECT_EQ(pool_state().leases.size(), 1u);
  EXPECT_TRUE(results.empty());  // still full: one reclaimed, one still reserved
  // The other carried lease is never reclaimed (its holder released it to the dead pool):
  // its place comes back when the window ends.
  advance(1s, 100ms);
  EXPECT_EQ(pool_state().reserved, 0u);
  EXPECT_EQ(granted_ids(), (std::vector<int>{0}));
  EXPECT_EQ(gauges->leases_in_use.load(), 2);
  // A reclaimed lease is a lease like any other: its release makes room.
  holder->send(pool, release_atom::value, lease.id);
  sched->run();
  EXPECT_EQ(gauges->leases_in_use.load(), 1);
}

TEST_F(restarted_pool_test, a_release_of_a_dead_pools_lease_id_frees_nothing) {
  quota_options o;
  o.max_concurrent = 1;
  make_restarted(o, {0, 0, 1s, 1});
  client(0);
  ASSERT_EQ(granted_ids(), (std::vector<int>{0}));
  caf::scoped_actor late{*sys};
  late->send(pool, release_atom::value, std::uint64_t{1});  // the old pool's first lease id
  sched->run();
  EXPECT_EQ(pool_state().leases.size(), 1u);
}

TEST_F(restarted_pool_test, carried_grants_count_in_the_rate_window) {
  quota_options o;
  o.rpm = 3;
  make_restarted(o, {0, 3, 1s, 1});
  client(0, 0);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].lease.granted);
  EXPECT_GT(results[0].lease.retry_after_ms, 59000u);  // as if granted at the restart
  advance(61s, 1s);
  client(1, 0);
  EXPECT_EQ(granted_ids(), (std::vector<int>{1}));
}

}  // namespace
}  // namespace streamgate
