#include "actors/quota_pool.hpp"

#include "telemetry/log.hpp"
#include "telemetry/stats.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <iterator>
#include <vector>

namespace streamgate {

double quota_gauges::free_share() const {
  double share = 1.0;
  auto in_use = static_cast<double>(leases_in_use.load(std::memory_order_relaxed));
  auto used = static_cast<double>(rpm_used.load(std::memory_order_relaxed));
  if (limits.max_concurrent > 0) share = std::min(share, 1.0 - in_use / limits.max_concurrent);
  if (limits.rpm > 0) share = std::min(share, 1.0 - used / limits.rpm);
  if (paused_ms.load(std::memory_order_relaxed) > 0) share = 0.0;
  return std::max(share, 0.0);
}

namespace {

using std::chrono::milliseconds;
constexpr auto rate_window = std::chrono::seconds(60);
constexpr std::uint64_t prune_tick = 0;                    // wake-up generations start at 1
constexpr std::uint64_t refresh_tick = ~std::uint64_t{0};  // only re-publishes the figures
constexpr std::uint64_t carry_tick = refresh_tick - 1;     // the carried-over reserve ends

std::uint32_t ms_until(caf::actor_clock::time_point t, caf::actor_clock::time_point now) {
  if (t <= now) return 0;
  // Rounded up: a client that retries after exactly this long finds room.
  auto ms = std::chrono::ceil<milliseconds>(t - now).count();
  return static_cast<std::uint32_t>(ms);
}

// The pool's arithmetic, kept out of the handlers so each handler reads as one step.
class pool_ops {
 public:
  explicit pool_ops(quota_pool_pointer self)
      : self_(self), st_(self->state), now_(self->clock().now()) {
    while (!st_.window.empty() && now_ - st_.window.front() >= rate_window) st_.window.pop_front();
  }

  ~pool_ops() { publish(); }

  bool has_room() const {
    if (now_ < st_.paused_until) return false;
    if (st_.options.max_concurrent > 0 && held() >= st_.options.max_concurrent) return false;
    return st_.options.rpm == 0 || st_.window.size() < st_.options.rpm;
  }

  // When asking again may succeed; for a concurrency limit nobody knows, so one second.
  std::uint32_t retry_after_ms() const {
    std::uint32_t ms = 0;
    if (now_ < st_.paused_until) ms = ms_until(st_.paused_until, now_);
    if (st_.options.rpm > 0 && st_.window.size() >= st_.options.rpm)
      ms = std::max(ms,
                    ms_until(st_.window[st_.window.size() - st_.options.rpm] + rate_window, now_));
    if (ms == 0) ms = 1000;
    return ms;
  }

  // `already_held`: a queued waiter's hold (taken when it queued) becomes the lease's hold.
  quota_lease grant(const caf::actor_addr& holder, bool already_held = false) {
    quota_lease lease{true, ++st_.next_id, 0};
    st_.leases.emplace(lease.id, holder);
    st_.window.push_back(now_);
    if (!already_held) hold(holder);
    st_.gauges->granted_total.fetch_add(1, std::memory_order_relaxed);
    return lease;
  }

  quota_lease refusal() {
    st_.gauges->refused_total.fetch_add(1, std::memory_order_relaxed);
    return {false, 0, retry_after_ms()};
  }

  caf::result<quota_lease> acquire(std::uint32_t wait_ms) {
    auto holder = caf::actor_cast<caf::actor_addr>(self_->current_sender());
    // A lease nobody can be monitored for could leak: refuse anonymous callers.
    if (!holder) return refusal();
    if (st_.queue.empty() && has_room()) return grant(holder);
    auto wait = std::min(milliseconds{wait_ms}, st_.options.queue_timeout);
    if (wait.count() == 0 || st_.queue.size() >= st_.options.max_queue) return refusal();
    quota_waiter w;
    w.ticket = ++st_.next_id;
    w.holder = holder;
    w.since = now_;
    w.promise = self_->make_response_promise<quota_lease>();
    auto promise = w.promise;
    hold(holder);
    self_->delayed_send(self_, wait, deadline_atom::value, w.ticket);
    st_.queue.push_back(std::move(w));
    arm_wakeup();
    return promise;
  }

  quota_lease reclaim() {
    auto holder = caf::actor_cast<caf::actor_addr>(self_->current_sender());
    if (!holder) return refusal();
    if (st_.reserved > 0) --st_.reserved;
    quota_lease lease{true, ++st_.next_id, 0};
    st_.leases.emplace(lease.id, holder);
    hold(holder);
    return lease;
  }

  void release(std::uint64_t id) {
    auto it = st_.leases.find(id);
    if (it == st_.leases.end()) return;  // released twice, or reclaimed already
    auto holder = it->second;
    st_.leases.erase(it);
    unhold(holder);
    drain();
  }

  void pause(std::uint32_t ms) {
    st_.paused_until = std::max(st_.paused_until, now_ + milliseconds{ms});
    log::warn("quota_paused", {{"pool", st_.pool_name}, {"pause_ms", ms}});
    arm_wakeup();
    // Readers (least-loaded routing, admin view) must see the pause end, traffic or not.
    self_->delayed_send(self_, milliseconds{ms}, tick_atom::value, refresh_tick);
  }

  void on_deadline(std::uint64_t ticket) {
    auto it = std::find_if(st_.queue.begin(), st_.queue.end(),
                           [&](const quota_waiter& w) { return w.ticket == ticket; });
    if (it == st_.queue.end()) return;  // granted before its deadline
    auto w = std::move(*it);
    st_.queue.erase(it);
    st_.gauges->expired_total.fetch_add(1, std::memory_order_relaxed);
    st_.timeout_stat->inc();
    w.promise.deliver(quota_lease{false, 0, retry_after_ms()});
    unhold(w.holder);
  }

  void on_holder_down(const caf::down_msg& dm) {
    auto& holder = dm.source;
    if (!st_.holders.forget(holder)) return;
    std::uint32_t released = 0;
    for (auto it = st_.leases.begin(); it != st_.leases.end();) {
      if (it->second != holder) {
        ++it;
        continue;
      }
      it = st_.leases.erase(it);
      ++released;
      st_.gauges->reclaimed_total.fetch_add(1, std::memory_order_relaxed);
    }
    // Another node's proxy out of reach: dead, or cut off and still serving those streams.
    // Its room stays taken until it rejoins (or restarts) - released only as room kept.
    if (dm.reason == caf::exit_reason::remote_link_unreachable && released > 0) {
      st_.unreachable[holder.node()] += released;
      keep_room_for(holder.node());
    }
    drop_waiters(holder);
    drain();
  }

  void on_unreachable(const caf::node_id& node, std::uint32_t share) {
    auto& kept = st_.unreachable[node];
    kept = std::max(kept, share);
    keep_room_for(node);
  }

  // Bounded: a node still out of reach after reserve_hold is taken for dead, so a killed node's
  // room comes back (docs/cluster.md: a partition longer than that may exceed the limit).
  void keep_room_for(const caf::node_id& node) {
    log::info("quota_room_kept", {{"pool", st_.pool_name},
                                  {"leases", st_.unreachable[node]},
                                  {"for_ms", st_.reserve_hold.count()}});
    self_->delayed_send(self_, st_.reserve_hold, reachable_atom::value, node);
  }

  // The node rejoined (its rejoin counts what it holds), restarted (what it held is gone), or
  // stayed out of reach past the hold.
  void on_reachable(const caf::node_id& node) {
    if (st_.unreachable.erase(node) > 0) drain();
  }

  // The holder's session ended while it waited: its place in the queue goes to the next.
  void withdraw() {
    auto holder = caf::actor_cast<caf::actor_addr>(self_->current_sender());
    if (!holder) return;
    for (auto& w : drop_waiters(holder)) {
      w.promise.deliver(quota_lease{});  // not a refusal: nobody waits for the answer
      unhold(holder);
    }
    drain();
  }

  // Grants to the head of the queue while there is room: strictly first come, first served.
  void drain() {
    while (!st_.queue.empty() && has_room()) {
      auto w = std::move(st_.queue.front());
      st_.queue.pop_front();
      st_.wait_stat->observe(std::chrono::duration<double>(now_ - w.since).count());
      w.promise.deliver(grant(w.holder, true));
    }
    arm_wakeup();
  }

  void rejoin(std::uint32_t leases, std::uint32_t grants) {
    if (auto sender = self_->current_sender()) st_.unreachable.erase(sender->node());
    st_.reserved += leases;
    st_.window.insert(st_.window.end(), grants, now_);
    log::info("quota_rejoined", {{"pool", st_.pool_name}, {"leases", leases}, {"grants", grants}});
    self_->delayed_send(self_, st_.reserve_hold, tick_atom::value, carry_tick);
  }

  void hold_back(std::uint32_t n) {
    st_.held_back = n;
    drain();
  }

  void on_tick(std::uint64_t generation) {
    if (generation == prune_tick) st_.prune_armed = false;
    if (generation == carry_tick && st_.reserved > 0) {
      log::info("quota_reserve_ended", {{"pool", st_.pool_name}, {"unclaimed", st_.reserved}});
      st_.reserved = 0;
      drain();
    }
    if (generation == prune_tick || generation == st_.tick_generation) drain();
  }

 private:
  std::size_t held() const {
    std::size_t kept = 0;
    for (auto& [node, n] : st_.unreachable) kept += n;
    return st_.leases.size() + st_.reserved + st_.held_back + kept;
  }
  std::size_t own() const { return st_.leases.size() + st_.reserved; }

  // Waiters blocked by time (the rate window or a pause) need a timer; ones blocked by the
  // concurrency limit wake up on a release.
  void arm_wakeup() {
    if (st_.queue.empty() || has_room()) return;
    bool time_bound =
        now_ < st_.paused_until || (st_.options.rpm > 0 && st_.window.size() >= st_.options.rpm);
    if (!time_bound) return;
    self_->delayed_send(self_, milliseconds{retry_after_ms()}, tick_atom::value,
                        ++st_.tick_generation);
  }

  // Takes the holder's requests out of the queue (their holds stay for the caller to undo).
  std::vector<quota_waiter> drop_waiters(const caf::actor_addr& holder) {
    std::vector<quota_waiter> dropped;
    auto& q = st_.queue;
    auto keep = std::stable_partition(q.begin(), q.end(),
                                      [&](const quota_waiter& w) { return w.holder != holder; });
    std::move(keep, q.end(), std::back_inserter(dropped));
    q.erase(keep, q.end());
    return dropped;
  }

  void hold(const caf::actor_addr& holder) { st_.holders.hold(self_, holder); }
  void unhold(const caf::actor_addr& holder) { st_.holders.unhold(self_, holder); }

  void publish() {
    // The figures must not go stale while the pool is idle: look again when the oldest grant
    // leaves the window.
    if (!st_.window.empty() && !st_.prune_armed) {
      st_.prune_armed = true;
      self_->delayed_send(self_, st_.window.front() + rate_window - now_, tick_atom::value,
                          prune_tick);
    }
    auto& g = *st_.gauges;
    // The reserve counts as held: a restart after a restart carries it over again.
    auto in_use = static_cast<std::int64_t>(own());
    g.leases_in_use.store(in_use, std::memory_order_relaxed);
    g.queue_length.store(static_cast<std::int64_t>(st_.queue.size()), std::memory_order_relaxed);
    st_.leases_stat->set(in_use);
    st_.queue_stat->set(static_cast<std::int64_t>(st_.queue.size()));
    g.rpm_used.store(static_cast<std::int64_t>(st_.window.size()), std::memory_order_relaxed);
    g.paused_ms.store(ms_until(st_.paused_until, now_), std::memory_order_relaxed);
  }

  quota_pool_pointer self_;
  quota_pool_state& st_;
  caf::actor_clock::time_point now_;
};

}  // namespace

quota_pool_impl::behavior_type quota_pool(quota_pool_pointer self, std::string name,
                                          quota_options options, quota_gauges_ptr gauges) {
  return restarted_quota_pool(self, std::move(name), options, std::move(gauges), {});
}

quota_pool_impl::behavior_type restarted_quota_pool(quota_pool_pointer self, std::string name,
                                                    quota_options options, quota_gauges_ptr gauges,
                                                    quota_carry carry) {
  auto& st = self->state;
  st.pool_name = std::move(name);
  st.options = options;
  st.gauges = gauges ? std::move(gauges) : std::make_shared<quota_gauges>();
  st.gauges->limits = options;
  auto& q = stats::quota();
  st.leases_stat = &q.leases_in_use.with({st.pool_name});
  st.queue_stat = &q.queue_length.with({st.pool_name});
  st.wait_stat = &q.queue_wait.with({st.pool_name});
  st.timeout_stat = &q.queue_timeouts.with({st.pool_name});
  self->set_down_handler([self](caf::down_msg& dm) { pool_ops{self}.on_holder_down(dm); });
  st.next_id = std::uint64_t{carry.incarnation} << 40;
  if (carry.hold.count() > 0) st.reserve_hold = carry.hold;
  if (carry.leases > 0 || carry.grants > 0) {
    st.reserved = carry.leases;
    st.window.assign(carry.grants, self->clock().now());
    self->delayed_send(self, carry.hold, tick_atom::value, carry_tick);
  }
  return {
      [self](acquire_atom, std::uint32_t wait_ms) { return pool_ops{self}.acquire(wait_ms); },
      [self](release_atom, std::uint64_t id) { pool_ops{self}.release(id); },
      [self](reclaim_atom) { return pool_ops{self}.reclaim(); },
      [self](withdraw_atom) { pool_ops{self}.withdraw(); },
      [self](pause_atom, std::uint32_t ms) { pool_ops{self}.pause(ms); },
      [self](rejoin_atom, std::uint32_t leases, std::uint32_t grants) {
        pool_ops{self}.rejoin(leases, grants);
      },
      [self](hold_back_atom, std::uint32_t n) { pool_ops{self}.hold_back(n); },
      [self](unreachable_atom, caf::node_id& node, std::uint32_t share) {
        pool_ops{self}.on_unreachable(node, share);
      },
      [self](reachable_atom, caf::node_id& node) { pool_ops{self}.on_reachable(node); },
      [self](deadline_atom, std::uint64_t ticket) { pool_ops{self}.on_deadline(ticket); },
      [self](tick_atom, std::uint64_t generation) { pool_ops{self}.on_tick(generation); },
  };
}

}  // namespace streamgate
