#pragma once

#include "actors/messages.hpp"
#include "supervision/gateway_config.hpp"

#include <caf/stateful_actor.hpp>

#include <map>
#include <string>

namespace streamgate {

class session_registry;

using get_router_atom = caf::atom_constant<caf::atom("sg_router")>;

// The root of the actor tree: spawns the router and one actor per provider, and restarts
// providers that fail.
using engine_actor = caf::typed_actor<caf::replies_to<get_router_atom>::with<router_actor>>;

struct engine_state {
  static inline const char* name = "engine";
  gateway_config config;
  session_registry* registry = nullptr;
  router_actor router;
  std::map<std::string, provider_actor> providers;
};

using engine_pointer = engine_actor::stateful_pointer<engine_state>;

engine_actor::behavior_type engine_behavior(engine_pointer self, gateway_config config,
                                            session_registry* registry);

}  // namespace streamgate
