#include "cluster/pool_proxy.hpp"

#include "telemetry/log.hpp"
#include "telemetry/stats.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <vector>

namespace streamgate {
namespace {

using std::chrono::milliseconds;
constexpr auto rate_window = std::chrono::seconds(60);
constexpr std::uint32_t retry_unreachable_ms = 1000;

class proxy_ops {
 public:
  explicit proxy_ops(pool_proxy_pointer self)
      : self_(self), st_(self->state), now_(self->clock().now()) {
    while (!st_.grants.empty() && now_ - st_.grants.front().at >= rate_window)
      st_.grants.pop_front();
  }

  ~proxy_ops() { publish(); }

  caf::result<quota_lease> acquire(std::uint32_t wait_ms) {
    auto holder = caf::actor_cast<caf::actor_addr>(self_->current_sender());
    if (!holder) return quota_lease{false, 0, retry_unreachable_ms};
    auto wait = std::min(milliseconds{wait_ms}, st_.options.limits.queue_timeout);
    proxy_waiter w;
    w.holder = holder;
    w.promise = self_->make_response_promise<quota_lease>();
    w.deadline = now_ + wait;
    auto promise = w.promise;
    hold(holder);
    forward(std::move(w));
    return promise;
  }

  // A session of a restarted proxy carries its lease over: granted by whichever backend
  // serves now, without a check for room.
  caf::result<quota_lease> reclaim() {
    auto holder = caf::actor_cast<caf::actor_addr>(self_->current_sender());
    if (!holder) return quota_lease{false, 0, retry_unreachable_ms};
    auto id = ++st_.next_id;
    st_.leases[id].holder = holder;
    hold(holder);
    move(id);
    return quota_lease{true, id, 0};
  }

  void release(std::uint64_t id) {
    auto it = st_.leases.find(id);
    if (it == st_.leases.end()) return;
    auto lease = it->second;
    st_.leases.erase(it);
    give_back(lease.backend, lease.backend_id);
    unhold(lease.holder);
  }

  void withdraw() {
    auto holder = caf::actor_cast<caf::actor_addr>(self_->current_sender());
    for (auto& [ticket, w] : st_.waiters) {
      if (w.holder != holder || w.withdrawn) continue;
      w.withdrawn = true;
      w.promise.deliver(quota_lease{});
    }
  }

  void pause(std::uint32_t ms) {
    if (auto b = backend()) self_->anon_send(b, pause_atom::value, ms);
  }

  std::uint32_t overage() const {
    if (st_.options.limits.max_concurrent == 0) return 0;
    auto held = static_cast<std::uint32_t>(st_.leases.size());
    auto share = st_.options.share.max_concurrent;
    return held > share ? held - share : 0;
  }

  // A new owner, straight after another one (its pool moved) or after a degraded spell.
  void on_owner(const quota_pool_actor& owner) {
    if (!owner) return on_owner_lost();
    if (owner == st_.owner) return;
    auto old = backend();
    drop_owner();
    st_.owner = owner;
    self_->monitor(owner);
    // What this node holds without the new owner knowing (from a degraded pool, or from a
    // previous owner) now counts at the owner until reclaimed; so does what it granted on its
    // own while the owner was away.
    auto leases = static_cast<std::uint32_t>(
        std::count_if(st_.leases.begin(), st_.leases.end(),
                      [&](const auto& kv) { return kv.second.backend != owner; }));
    auto grants = static_cast<std::uint32_t>(std::count_if(
        st_.grants.begin(), st_.grants.end(), [](const proxy_grant& g) { return !g.by_owner; }));
    // Sent with this proxy as its sender: the owner stops keeping room for this node.
    self_->send(owner, rejoin_atom::value, leases, grants);
    bool was_degraded = st_.degraded_mode;
    st_.degraded_mode = false;
    move_all(old);
    if (st_.degraded) {
      self_->unlink_from(st_.degraded);
      self_->send_exit(st_.degraded, caf::exit_reason::user_shutdown);
      st_.degraded = nullptr;
    }
    stats::cluster().degraded.with({st_.options.name}).set(0);
    if (was_degraded)
      log::info(
          "cluster_pool_owner_reached",
          {{"pool", st_.options.name}, {"rejoined_leases", leases}, {"rejoined_grants", grants}});
  }

  // The owner died, or is out of reach (it may still live, and still hold our leases).
  void on_owner_lost() {
    if (!st_.owner && st_.degraded_mode) return;
    auto old = backend();
    drop_owner();
    st_.degraded_mode = true;
    stats::cluster().degraded.with({st_.options.name}).set(1);
    log::warn("cluster_pool_degraded", {{"pool", st_.options.name},
                                        {"share_concurrent", st_.options.share.max_concurrent},
                                        {"share_rpm", st_.options.share.rpm},
                                        {"leases_held", st_.leases.size()}});
    start_degraded();
    self_->anon_send(st_.node, owner_lost_atom::value, st_.options.name);
    move_all(old);
    poll();
  }

  void on_tick(std::uint64_t generation) {
    if (generation == st_.poll_generation && st_.degraded_mode) poll();
  }

  void on_down(const caf::down_msg& dm) {
    if (st_.owner && dm.source == caf::actor_cast<caf::actor_addr>(st_.owner)) {
      log::warn("cluster_pool_owner_down",
                {{"pool", st_.options.name}, {"reason", self_->system().render(dm.reason)}});
      return on_owner_lost();
    }
    if (!st_.holders.forget(dm.source)) return;
    for (auto it = st_.leases.begin(); it != st_.leases.end();) {
      if (it->second.holder != dm.source) {
        ++it;
        continue;
      }
      give_back(it->second.backend, it->second.backend_id);
      it = st_.leases.erase(it);
    }
    for (auto& [ticket, w] : st_.waiters) {
      if (w.holder == dm.source) w.withdrawn = true;
    }
  }

 private:
  // The backend that serves now: the owner, else the degraded pool (null when the share is 0).
  quota_pool_actor backend() const {
    return st_.owner ? st_.owner : caf::actor_cast<quota_pool_actor>(st_.degraded);
  }

  void drop_owner() {
    if (!st_.owner) return;
    self_->demonitor(caf::actor_cast<caf::actor_addr>(st_.owner));
    st_.owner = nullptr;
  }

  // Sends the waiter to the backend that serves now.
  void forward(proxy_waiter w) {
    auto to = backend();
    if (!to || w.withdrawn) {
      if (!w.withdrawn) w.promise.deliver(quota_lease{false, 0, retry_unreachable_ms});
      unhold(w.holder);
      return;
    }
    auto left =
        w.deadline > now_ ? std::chrono::ceil<milliseconds>(w.deadline - now_) : milliseconds{0};
    auto ticket = ++st_.next_id;
    w.backend = to;
    st_.waiters.emplace(ticket, std::move(w));
    self_
        ->request(to, left + st_.options.request_timeout, acquire_atom::value,
                  static_cast<std::uint32_t>(left.count()))
        .then([self = self_, ticket,
               to](quota_lease& lease) { proxy_ops{self}.on_answer(ticket, to, lease); },
              [self = self_, ticket, to](caf::error&) {
                proxy_ops{self}.on_answer(ticket, to, quota_lease{false, 0, retry_unreachable_ms});
              });
  }

  // `from`: the backend that was asked for `ticket`.
  void on_answer(std::uint64_t ticket, const quota_pool_actor& from, const quota_lease& lease) {
    auto it = st_.waiters.find(ticket);
    if (it == st_.waiters.end()) {
      // The waiter was asked again elsewhere since (the backend changed): a grant that still
      // comes is nobody's, and `from` may live on.
      if (lease.granted) give_back(from, lease.id);
      return;
    }
    auto w = std::move(it->second);
    st_.waiters.erase(it);
    if (lease.granted && w.withdrawn) {
      give_back(from, lease.id);
      unhold(w.holder);
      return;
    }
    if (!lease.granted) {
      if (!w.withdrawn) w.promise.deliver(lease);
      unhold(w.holder);
      return;
    }
    // Still the backend that serves: move_all asks again elsewhere when it changes.
    auto id = ++st_.next_id;
    st_.leases[id] = proxy_lease{w.holder, from, lease.id};
    st_.grants.push_back({now_, from == st_.owner});
    w.promise.deliver(quota_lease{true, id, 0});
  }

  // The backend changed from `old` (move_all runs on every change, and only then): every
  // lease and waiter goes to the one that serves now. Nothing is at that one yet, and whatever
  // is on its way to `old` is stale.
  void move_all(const quota_pool_actor& old) {
    for (auto& kv : st_.leases) move(kv.first);
    if (st_.waiters.empty()) return;
    // An owner out of reach may live on, and would keep our requests in its queue until their
    // deadlines. Their refusals find no waiter; a grant already on its way is given back.
    if (old) self_->send(old, withdraw_atom::value);
    std::vector<proxy_waiter> again;
    for (auto& kv : st_.waiters) again.push_back(std::move(kv.second));
    st_.waiters.clear();
    for (auto& w : again) forward(std::move(w));
  }

  // The lease leaves the backend that holds it (an owner out of reach may still live and count
  // it) and is reclaimed at the one that serves now (granted without a check for room: the
  // stream runs already). While the share is 0 it is only counted here, and the next owner
  // gets it through move_all.
  void move(std::uint64_t id) {
    auto& lease = st_.leases.at(id);
    give_back(lease.backend, lease.backend_id);
    lease.backend = nullptr;
    lease.backend_id = 0;
    lease.move_ticket = 0;
    auto to = backend();
    if (!to) return;
    auto ticket = lease.move_ticket = ++st_.next_id;
    self_->request(to, st_.options.request_timeout, reclaim_atom::value)
        .then([self = self_, id, to,
               ticket](quota_lease& granted) { proxy_ops{self}.on_moved(id, ticket, to, granted); },
              [self = self_, id, ticket](caf::error&) {
                // Held nowhere now; the next backend change tries again.
                auto it = self->state.leases.find(id);
                if (it != self->state.leases.end() && it->second.move_ticket == ticket)
                  it->second.move_ticket = 0;
              });
  }

  void on_moved(std::uint64_t id, std::uint64_t ticket, const quota_pool_actor& from,
                const quota_lease& granted) {
    auto it = st_.leases.find(id);
    if (it == st_.leases.end() || it->second.move_ticket != ticket) {
      // Released meanwhile, or the backend changed again (a later move carries it).
      give_back(from, granted.id);
      return;
    }
    it->second.backend = from;
    it->second.backend_id = granted.id;
    it->second.move_ticket = 0;
  }

  // To the backend that granted `id`: released there even when it is no longer the one that
  // serves (harmless if it died meanwhile).
  void give_back(const quota_pool_actor& to, std::uint64_t id) {
    if (to && id != 0) self_->anon_send(to, release_atom::value, id);
  }

  // This node's share of the limits, from a local pool that starts with this node's grants of
  // the last minute in its window, and holds back everything until the peers have said what
  // they hold beyond their shares.
  void start_degraded() {
    auto& share = st_.options.share;
    auto& limits = st_.options.limits;
    bool nothing = (limits.rpm > 0 && share.rpm == 0) ||
                   (limits.max_concurrent > 0 && share.max_concurrent == 0);
    if (nothing) return;
    quota_carry carry;
    carry.grants = static_cast<std::uint32_t>(st_.grants.size());
    carry.hold = st_.options.reserve_hold;
    carry.incarnation = 1;
    st_.degraded = self_->spawn<caf::linked>(restarted_quota_pool, st_.options.name + "@degraded",
                                             share, std::make_shared<quota_gauges>(), carry);
    if (limits.max_concurrent > 0)
      self_->anon_send(st_.degraded, hold_back_atom::value, share.max_concurrent);
  }

  // Degraded: what the peers hold beyond their shares is held back here, so that all nodes
  // together stay within the limit (docs/cluster.md).
  void poll() {
    auto generation = ++st_.poll_generation;
    self_->request(st_.node, st_.options.request_timeout, peers_atom::value, st_.options.name)
        .then(
            [self = self_](std::uint32_t overage) {
              auto& st = self->state;
              if (st.degraded_mode && st.degraded && st.options.limits.max_concurrent > 0)
                self->anon_send(st.degraded, hold_back_atom::value, overage);
            },
            [](caf::error&) {});
    self_->delayed_send(self_, st_.options.poll_interval, tick_atom::value, generation);
  }

  void hold(const caf::actor_addr& holder) { st_.holders.hold(self_, holder); }
  void unhold(const caf::actor_addr& holder) { st_.holders.unhold(self_, holder); }

  void publish() {
    auto& g = *st_.gauges;
    auto in_use = static_cast<std::int64_t>(st_.leases.size());
    g.leases_in_use.store(in_use, std::memory_order_relaxed);
    g.queue_length.store(static_cast<std::int64_t>(st_.waiters.size()), std::memory_order_relaxed);
    g.rpm_used.store(static_cast<std::int64_t>(st_.grants.size()), std::memory_order_relaxed);
    stats::quota().leases_in_use.with({st_.options.name}).set(in_use);
  }

  pool_proxy_pointer self_;
  pool_proxy_state& st_;
  caf::actor_clock::time_point now_;
};

}  // namespace

pool_proxy_impl::behavior_type pool_proxy(pool_proxy_pointer self, pool_proxy_options options,
                                          cluster_node_impl node, quota_gauges_ptr gauges) {
  auto& st = self->state;
  st.options = std::move(options);
  st.node = std::move(node);
  st.gauges = gauges ? std::move(gauges) : std::make_shared<quota_gauges>();
  st.gauges->limits = st.options.limits;
  self->set_down_handler([self](caf::down_msg& dm) { proxy_ops{self}.on_down(dm); });
  // No owner known yet: serve this node's share until the node reaches it.
  proxy_ops{self}.on_owner_lost();
  return {
      [self](acquire_atom, std::uint32_t wait_ms) { return proxy_ops{self}.acquire(wait_ms); },
      [self](release_atom, std::uint64_t id) { proxy_ops{self}.release(id); },
      [self](reclaim_atom) { return proxy_ops{self}.reclaim(); },
      [self](withdraw_atom) { proxy_ops{self}.withdraw(); },
      [self](pause_atom, std::uint32_t ms) { proxy_ops{self}.pause(ms); },
      [](rejoin_atom, std::uint32_t, std::uint32_t) {
        // Only an owner takes rejoins; a misconfigured peer's is dropped.
      },
      [self](owner_atom, quota_pool_actor& owner) { proxy_ops{self}.on_owner(owner); },
      [self](overage_atom) { return proxy_ops{self}.overage(); },
      [self](tick_atom, std::uint64_t generation) { proxy_ops{self}.on_tick(generation); },
  };
}

}  // namespace streamgate
