#pragma once

#include "actors/atoms.hpp"
#include "actors/provider_actor.hpp"
#include "actors/quota_pool_actor.hpp"
#include "actors/upstream_opener.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace streamgate {

struct route_candidate {
  std::string provider;
  provider_actor handle;
  quota_pool_actor pool;  // null: no quota limits
  // Null: open through the provider's actor (open_atom). Else the session starts the
  // transfer itself, with no actor hop (upstream_opener.hpp).
  upstream_opener_ptr opener;
};

// Which providers may serve a model, in the order to try them.
struct route_plan {
  std::vector<route_candidate> candidates;
  // A candidate was left out only because its actor is being restarted: routing again in a
  // moment may find it.
  bool restarting = false;
};

using router_actor = caf::typed_actor<
    caf::replies_to<route_atom, std::string>::with<route_plan>,
    // The current handles of every provider of the model that is up, in configured order: no
    // breaker probe taken, no round-robin turn (a plan's refresh).
    caf::replies_to<lookup_atom, std::string>::with<route_plan>,
    // A provider actor was (re)started: route to the new handle.
    caf::reacts_to<provider_atom, std::string, provider_actor>,
    // The same, for a provider whose transfers sessions start themselves through its opener.
    caf::reacts_to<provider_atom, std::string, provider_actor, upstream_opener_ptr>,
    // The provider is down for good (restart limit reached).
    caf::reacts_to<provider_atom, std::string>,
    // The provider's quota pool was restarted: its new handle.
    caf::reacts_to<pool_atom, std::string, quota_pool_actor>,
    // Circuit breaker news: how many more plans may include the provider (0: open;
    // route_unlimited: closed).
    caf::reacts_to<health_atom, std::string, std::uint32_t>>;

inline constexpr std::uint32_t route_unlimited = 0xffffffffu;

}  // namespace streamgate

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(streamgate::route_plan)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(streamgate::upstream_opener_ptr)
