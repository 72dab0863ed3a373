#pragma once

#include "actors/quota_options.hpp"
#include "actors/route_config.hpp"
#include "actors/router_actor.hpp"

#include <caf/stateful_actor.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace streamgate {

struct router_config {
  std::map<std::string, route_config> routes;      // model → candidates and strategy
  std::map<std::string, quota_pool_actor> pools;   // provider → its quota pool
  std::map<std::string, quota_gauges_ptr> gauges;  // provider → its pool's figures
};

struct router_state {
  static inline const char* name = "router";
  router_config config;
  std::map<std::string, provider_actor> providers;     // null handle: down or restarting
  std::map<std::string, upstream_opener_ptr> openers;  // of the current handle, where it has one
  std::set<std::string> down;                          // gave up restarting
  // Circuit breakers as the engine reports them: plans that may still include the provider
  // (absent: closed, no limit).
  std::map<std::string, std::uint32_t> admits;
  // Smooth weighted round-robin: current weight per model and provider.
  std::map<std::string, std::map<std::string, std::int64_t>> wrr_current;
  std::uint64_t plans = 0;
  std::uint64_t empty_plans = 0;  // no candidate could be offered
};

using router_pointer = router_actor::stateful_pointer<router_state>;

router_actor::behavior_type router_behavior(router_pointer self, router_config config);

// The order in which to try `eligible` (indices into route.targets) — pure, for tests.
std::vector<std::size_t> order_candidates(const route_config& route,
                                          std::vector<std::size_t> eligible,
                                          std::map<std::string, std::int64_t>& wrr_current,
                                          const std::map<std::string, quota_gauges_ptr>& gauges);

}  // namespace streamgate
