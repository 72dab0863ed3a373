#pragma once

#include "actors/route_table.hpp"
#include "actors/router_actor.hpp"

#include <caf/stateful_actor.hpp>

#include <memory>

namespace streamgate {

// The router actor: the message interface to a route_table (router_actor.hpp). Sessions whose
// router_ref carries the table read their plans from it directly; the actor serves the
// others, and applies updates sent to it as messages.
struct router_state {
  static inline const char* name = "router";
  std::shared_ptr<route_table> table;
};

using router_pointer = router_actor::stateful_pointer<router_state>;

router_actor::behavior_type router_behavior(router_pointer self,
                                            std::shared_ptr<route_table> table);

}  // namespace streamgate
