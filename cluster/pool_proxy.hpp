#pragma once

// The local face of a quota pool that another node owns (docs/cluster.md). Sessions acquire
// from it as from a local pool; it holds the owner's leases for them (the owner monitors the
// proxy, so a node that dies takes its leases with it), and while the owner is out of reach
// it serves from a local pool limited to this node's share of the limits.

#include "actors/holder_count.hpp"
#include "actors/quota_options.hpp"
#include "actors/quota_pool.hpp"
#include "cluster/cluster_node_actor.hpp"

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace streamgate {

struct pool_proxy_options {
  std::string name;
  quota_options limits;  // the pool's, cluster-wide
  quota_options share;   // this node's part while degraded (cluster_options::share_of)
  std::chrono::milliseconds request_timeout{2000};
  std::chrono::milliseconds poll_interval{1000};  // degraded: ask peers for their overage
  std::chrono::milliseconds reserve_hold{5000};   // a rejoined owner's reserve
};

// Leases and waiters record their backend by its handle (an owner's pool, or the degraded pool
// of one degraded spell), not as "an owner": the owner can change while the old one lives, and
// a lease id or a late answer means something only to the pool that gave it.
struct proxy_lease {
  caf::actor_addr holder;
  quota_pool_actor backend;  // granted backend_id; null while moving, or with nowhere to be
  std::uint64_t backend_id = 0;
  // Nonzero: reclaimed at the backend that serves now, answer pending. An answer to any other
  // ticket (the backend changed again, or the lease was released) is given back to its sender.
  std::uint64_t move_ticket = 0;

  bool moving() const { return move_ticket != 0; }
};

// An acquire waiting for its backend's answer, by ticket: when the backend changes, the
// proxy asks the new one, and a late grant to the old ticket is given back to the old one.
struct proxy_waiter {
  caf::actor_addr holder;
  caf::typed_response_promise<quota_lease> promise;
  caf::actor_clock::time_point deadline;
  quota_pool_actor backend;  // queued there (move_all withdraws it when the backend changes)
  bool withdrawn = false;    // answered already: a grant that still comes goes back
};

struct proxy_grant {
  caf::actor_clock::time_point at;
  // Else by a degraded pool: news to the owner at rejoin. An owner's grant is in that owner's
  // rate window already (or was lost with it).
  bool by_owner = false;
};

struct pool_proxy_state {
  static inline const char* name = "pool_proxy";

  pool_proxy_options options;
  cluster_node_impl node;
  quota_gauges_ptr gauges;
  quota_pool_actor owner;       // null: out of reach
  quota_pool_control degraded;  // null while the owner serves, or when the share is 0
  bool degraded_mode = false;
  std::map<std::uint64_t, proxy_lease> leases;    // by the id the session holds
  holder_count holders;                           // monitored: leases + pending requests
  std::deque<proxy_grant> grants;                 // this node's, in the last 60 s
  std::map<std::uint64_t, proxy_waiter> waiters;  // by ticket
  std::uint64_t next_id = 0;
  std::uint64_t poll_generation = 0;
};

// The proxy's interface plus its timer: ask the peers again for their overage.
using pool_proxy_impl = pool_proxy_actor::extend<caf::reacts_to<tick_atom, std::uint64_t>>;
using pool_proxy_pointer = pool_proxy_impl::stateful_pointer<pool_proxy_state>;

// Starts degraded (no owner known yet); the node tells it the owner's pool once connected.
pool_proxy_impl::behavior_type pool_proxy(pool_proxy_pointer self, pool_proxy_options options,
                                          cluster_node_impl node, quota_gauges_ptr gauges);

}  // namespace streamgate
