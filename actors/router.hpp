#pragma once

#include "actors/messages.hpp"

#include <caf/stateful_actor.hpp>

#include <map>
#include <string>
#include <vector>

namespace streamgate {

struct router_config {
  // model → provider names in failover order.
  std::map<std::string, std::vector<std::string>> routes;
};

struct router_state {
  static inline const char* name = "router";
  router_config config;
  std::map<std::string, provider_actor> providers;
};

using router_pointer = router_actor::stateful_pointer<router_state>;

router_actor::behavior_type router_behavior(router_pointer self, router_config config);

}  // namespace streamgate
