#pragma once

#include "actors/provider_actor.hpp"
#include "actors/quota_options.hpp"
#include "actors/quota_pool_actor.hpp"
#include "actors/route_table.hpp"
#include "actors/router_ref.hpp"
#include "cluster/cluster_node_actor.hpp"
#include "supervision/circuit_breaker.hpp"
#include "supervision/engine_actor.hpp"
#include "supervision/gateway_config.hpp"

#include <caf/actor_clock.hpp>
#include <caf/stateful_actor.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>

namespace streamgate {

class transfer_runner;
class session_registry;

using restart_atom = caf::atom_constant<caf::atom("sg_restart")>;
using breaker_atom = caf::atom_constant<caf::atom("sg_breaker")>;

// The engine's interface plus its own timers: a provider's backoff is over (start it again),
// a provider's breaker cooldown may be over.
using engine_impl = engine_actor::extend<caf::reacts_to<restart_atom, std::string>,
                                         caf::reacts_to<breaker_atom, std::string>>;

// What /readyz reads without asking the engine: the engine writes `routable` whenever a
// provider's actor or breaker changes; the gateway clears `up` when the engine goes down.
struct engine_vitals {
  std::atomic<bool> up{true};
  std::atomic<std::uint32_t> routable{0};  // providers up, not given up on, breaker not open
};

// What the engine shares with the gateway that spawned it; each outlives the engine.
struct engine_links {
  session_registry* registry = nullptr;
  // The router's current handle, replaced when the engine restarts it.
  std::shared_ptr<router_ref> router = std::make_shared<router_ref>();
  std::shared_ptr<engine_vitals> vitals = std::make_shared<engine_vitals>();
  // Cluster mode: this node's cluster actor (null: one node alone).
  cluster_node_impl node{};
};

// The restart budget of one supervised actor (restart_options: so many within a window).
struct restart_record {
  std::uint32_t restarts = 0;
  std::deque<caf::actor_clock::time_point> recent_crashes;
  std::string last_exit;
};

struct engine_pool {
  quota_pool_actor handle;
  // Cluster mode, a pool another node owns: handle is this proxy (docs/cluster.md).
  pool_proxy_actor proxy;
  quota_gauges_ptr gauges;
  restart_record record;
};

struct supervised_provider {
  provider_entry entry;
  provider_actor handle;
  upstream_opener_ptr opener;  // an HTTP provider's, for sessions to start transfers with
  restart_record record;
  bool down = false;  // gave up restarting
  circuit_breaker breaker;
  std::uint64_t successes = 0;  // attempt outcomes reported by sessions
  std::uint64_t failures = 0;
};

struct engine_state {
  static inline const char* name = "engine";
  gateway_config config;
  engine_links links;
  router_actor router;
  std::shared_ptr<route_table> routes;  // what the router and the sessions route by
  restart_record router_record;
  std::map<std::string, supervised_provider> providers;
  std::map<std::string, engine_pool> pools;  // by pool name
  // The upstream I/O (upstream_threads curl drivers, or one on the I/O threads), started with
  // the first HTTP provider. Shared with the streams, which may outlive the engine by a
  // moment at shutdown.
  std::shared_ptr<transfer_runner> driver;
};

using engine_pointer = engine_impl::stateful_pointer<engine_state>;

engine_impl::behavior_type engine_behavior(engine_pointer self, gateway_config config,
                                           engine_links links);

// The restart decision: how long to wait before restarting after a crash at `now`, or
// nothing when the provider crashed too often and must be marked down. Updates `recent`.
std::optional<std::chrono::milliseconds> next_restart_delay(
    const restart_options& opts, std::deque<caf::actor_clock::time_point>& recent,
    caf::actor_clock::time_point now);

}  // namespace streamgate
