#pragma once

// The quota_pool actor: one per provider or per named quota key shared by several providers.

#include "actors/holder_count.hpp"
#include "actors/quota_options.hpp"
#include "actors/quota_pool_actor.hpp"

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/node_id.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace streamgate {

namespace metrics {
class gauge;
class histogram;
class counter;
}  // namespace metrics

struct quota_waiter {
  std::uint64_t ticket = 0;
  caf::actor_clock::time_point since;  // queued at
  caf::actor_addr holder;
  caf::typed_response_promise<quota_lease> promise;
};

// What a pool restarted after a crash takes over from its predecessor, read from the
// gauges the predecessor kept: it starts as if those leases were still held and those
// grants were made just now, so that together with the leases still in use it never grants
// more than its limits. Holders reclaim their leases (reclaim_atom) within `hold`; whatever
// is not reclaimed by then was released to the dead pool, and its room comes back.
struct quota_carry {
  std::uint32_t leases = 0;
  std::uint32_t grants = 0;  // in the rate window
  std::chrono::milliseconds hold{0};
  // Lease ids start at incarnation << 40, so an id of the dead pool, released to this one by
  // a holder that has not heard of the restart yet, can never release someone else's lease.
  std::uint32_t incarnation = 0;
};

struct quota_pool_state {
  static inline const char* name = "quota_pool";

  std::string pool_name;
  quota_options options;
  quota_gauges_ptr gauges;

  std::deque<caf::actor_clock::time_point> window;  // grant times within the last 60 s
  std::map<std::uint64_t, caf::actor_addr> leases;  // lease id → holder
  holder_count holders;                             // monitored: leases + queued requests
  std::deque<quota_waiter> queue;                   // FIFO
  std::uint32_t reserved = 0;  // carried-over leases not reclaimed yet: they count as held
  std::chrono::milliseconds reserve_hold{5000};  // how long a reserve waits to be reclaimed
  // Room kept for others (cluster degraded mode: what other nodes hold beyond their share).
  // Counts as held, but is not this pool's: not published as leases in use.
  std::uint32_t held_back = 0;
  // Cluster mode: room kept for nodes out of reach (by CAF node), which may go on serving
  // their share in degraded mode: the larger of the leases they held here and their share.
  // Counts as held until the node rejoins, or its node says it restarted.
  std::map<caf::node_id, std::uint32_t> unreachable;
  caf::actor_clock::time_point paused_until{};
  std::uint64_t next_id = 0;
  std::uint64_t tick_generation = 0;
  bool prune_armed = false;  // a timer will drop expired grants from the window

  // This pool's labelled metrics, looked up once.
  metrics::gauge* leases_stat = nullptr;
  metrics::gauge* queue_stat = nullptr;
  metrics::histogram* wait_stat = nullptr;
  metrics::counter* timeout_stat = nullptr;
};

// The pool's control interface plus its own timers: a queued request's deadline (by ticket),
// and "capacity may have freed up".
using quota_pool_impl = quota_pool_control::extend<caf::reacts_to<deadline_atom, std::uint64_t>,
                                                   caf::reacts_to<tick_atom, std::uint64_t>>;

using quota_pool_pointer = quota_pool_impl::stateful_pointer<quota_pool_state>;

quota_pool_impl::behavior_type quota_pool(quota_pool_pointer self, std::string name,
                                          quota_options options, quota_gauges_ptr gauges);

// A pool that takes over from one that crashed (quota_carry says what it carries over).
quota_pool_impl::behavior_type restarted_quota_pool(quota_pool_pointer self, std::string name,
                                                    quota_options options, quota_gauges_ptr gauges,
                                                    quota_carry carry);

}  // namespace streamgate
