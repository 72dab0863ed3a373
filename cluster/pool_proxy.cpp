#include "cluster/pool_proxy.hpp"

#include "telemetry/log.hpp"
#include "telemetry/stats.hpp"

#include <caf/all.hpp>

#include <algorithm>

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
    st_.leases[id] = proxy_lease{holder, 0, false, false};
    hold(holder);
    move(id);
    return quota_lease{true, id, 0};
  }

  void release(std::uint64_t id) {
    auto it = st_.leases.find(id);
    if (it == st_.leases.end()) return;
    auto lease = it->second;
    st_.leases.erase(it);
    give_back(lease.at_owner, lease.backend_id);
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
    if (st_.owner)
      self_->anon_send(st_.owner, pause_atom::value, ms);
    else if (st_.degraded)
      self_->anon_send(st_.degraded, pause_atom::value, ms);
  }

  std::uint32_t overage() const {
    if (st_.options.limits.max_concurrent == 0) return 0;
    auto held = static_cast<std::uint32_t>(st_.leases.size());
    auto share = st_.options.share.max_concurrent;
    return held > share ? held - share : 0;
  }

  void on_owner(const quota_pool_actor& owner) {
    if (!owner) return on_owner_lost();
    if (owner == st_.owner) return;
    st_.owner = owner;
    self_->monitor(owner);
    // What this node did on its own while the owner was away now counts at the owner.
    std::uint32_t leases = 0;
    std::uint32_t grants = 0;
    for (auto& [id, l] : st_.leases) leases += l.at_owner ? 0 : 1;
    for (auto& g : st_.grants) grants += g.at_owner ? 0 : 1;
    self_->anon_send(owner, rejoin_atom::value, leases, grants);
    bool was_degraded = st_.degraded_mode;
    st_.degraded_mode = false;
    move_all();
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

  void on_owner_lost() {
    if (st_.owner) {
      self_->demonitor(caf::actor_cast<caf::actor_addr>(st_.owner));
      st_.owner = nullptr;
    } else if (st_.degraded_mode) {
      return;
    }
    st_.degraded_mode = true;
    stats::cluster().degraded.with({st_.options.name}).set(1);
    log::warn("cluster_pool_degraded", {{"pool", st_.options.name},
                                        {"share_concurrent", st_.options.share.max_concurrent},
                                        {"share_rpm", st_.options.share.rpm},
                                        {"leases_held", st_.leases.size()}});
    start_degraded();
    self_->anon_send(st_.node, owner_lost_atom::value, st_.options.name);
    move_all();
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
    if (st_.holders.erase(dm.source) == 0) return;
    for (auto it = st_.leases.begin(); it != st_.leases.end();) {
      if (it->second.holder != dm.source) {
        ++it;
        continue;
      }
      give_back(it->second.at_owner, it->second.backend_id);
      it = st_.leases.erase(it);
    }
    for (auto& [ticket, w] : st_.waiters) {
      if (w.holder == dm.source) w.withdrawn = true;
    }
  }

 private:
  // Sends the waiter to the backend that serves now: the owner, else the degraded pool.
  void forward(proxy_waiter w) {
    auto at_owner = static_cast<bool>(st_.owner);
    auto backend = at_owner ? st_.owner : caf::actor_cast<quota_pool_actor>(st_.degraded);
    if (!backend || w.withdrawn) {
      if (!w.withdrawn) w.promise.deliver(quota_lease{false, 0, retry_unreachable_ms});
      unhold(w.holder);
      return;
    }
    auto left =
        w.deadline > now_ ? std::chrono::ceil<milliseconds>(w.deadline - now_) : milliseconds{0};
    auto ticket = ++st_.next_id;
    w.at_owner = at_owner;
    st_.waiters.emplace(ticket, std::move(w));
    self_
        ->request(backend, left + st_.options.request_timeout, acquire_atom::value,
                  static_cast<std::uint32_t>(left.count()))
        .then([self = self_,
               ticket](quota_lease& lease) { proxy_ops{self}.on_answer(ticket, lease); },
              [self = self_, ticket](caf::error&) {
                proxy_ops{self}.on_answer(ticket, quota_lease{false, 0, retry_unreachable_ms});
              });
  }

  void on_answer(std::uint64_t ticket, const quota_lease& lease) {
    auto it = st_.waiters.find(ticket);
    if (it == st_.waiters.end()) {
      // Asked again elsewhere since (the backend changed): this grant is nobody's.
      return;
    }
    auto w = std::move(it->second);
    st_.waiters.erase(it);
    if (lease.granted && w.withdrawn) {
      give_back(w.at_owner, lease.id);
      unhold(w.holder);
      return;
    }
    if (!lease.granted) {
      if (!w.withdrawn) w.promise.deliver(lease);
      unhold(w.holder);
      return;
    }
    auto id = ++st_.next_id;
    st_.leases[id] = proxy_lease{w.holder, lease.id, w.at_owner, false};
    st_.grants.push_back({now_, w.at_owner});
    w.promise.deliver(quota_lease{true, id, 0});
    if (w.at_owner != static_cast<bool>(st_.owner)) move(id);
  }

  // Every lease and waiter to the backend that serves now.
  void move_all() {
    auto to_owner = static_cast<bool>(st_.owner);
    for (auto& [id, l] : st_.leases) {
      bool there =
          l.moving ? l.moving_to_owner == to_owner : l.at_owner == to_owner && l.backend_id;
      if (!there) move(id);
    }
    std::vector<proxy_waiter> again;
    for (auto it = st_.waiters.begin(); it != st_.waiters.end();) {
      if (it->second.at_owner == static_cast<bool>(st_.owner)) {
        ++it;
        continue;
      }
      // A late grant of the old ticket finds no waiter; one from the degraded pool dies with
      // it, and a dead owner's never comes.
      again.push_back(std::move(it->second));
      it = st_.waiters.erase(it);
    }
    for (auto& w : again) forward(std::move(w));
  }

  // The lease is reclaimed at the backend that serves now (reclaim is granted without a check
  // for room: the stream runs already). While the share is 0 it is only counted here.
  void move(std::uint64_t id) {
    auto to_owner = static_cast<bool>(st_.owner);
    auto backend = to_owner ? st_.owner : caf::actor_cast<quota_pool_actor>(st_.degraded);
    auto& lease = st_.leases[id];
    if (!backend) {
      lease.at_owner = false;
      lease.backend_id = 0;
      return;
    }
    lease.moving = true;
    lease.moving_to_owner = to_owner;
    auto ticket = lease.move_ticket = ++st_.next_id;
    self_->request(backend, st_.options.request_timeout, reclaim_atom::value)
        .then(
            [self = self_, id, to_owner, backend, ticket](quota_lease& granted) {
              auto& st = self->state;
              auto it = st.leases.find(id);
              if (it == st.leases.end() || it->second.move_ticket != ticket) {
                // Released meanwhile, or the backend changed again (a later move carries it).
                self->anon_send(backend, release_atom::value, granted.id);
                return;
              }
              it->second.backend_id = granted.id;
              it->second.at_owner = to_owner;
              it->second.moving = false;
            },
            [self = self_, id, ticket](caf::error&) {
              auto it = self->state.leases.find(id);
              if (it != self->state.leases.end() && it->second.move_ticket == ticket)
                it->second.moving = false;
            });
  }

  void give_back(bool at_owner, std::uint64_t backend_id) {
    if (backend_id == 0) return;
    if (at_owner && st_.owner)
      self_->anon_send(st_.owner, release_atom::value, backend_id);
    else if (!at_owner && st_.degraded)
      self_->anon_send(st_.degraded, release_atom::value, backend_id);
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

  void hold(const caf::actor_addr& holder) {
    if (st_.holders[holder]++ == 0) self_->monitor(holder);
  }

  void unhold(const caf::actor_addr& holder) {
    auto it = st_.holders.find(holder);
    if (it == st_.holders.end()) return;
    if (--it->second == 0) {
      self_->demonitor(holder);
      st_.holders.erase(it);
    }
  }

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
