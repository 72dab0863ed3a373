#pragma once

#include "actors/admin_service.hpp"
#include "actors/atoms.hpp"
#include "actors/router_actor.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>

namespace streamgate {

using crash_atom = caf::atom_constant<caf::atom("sg_crash")>;

// The root of the actor tree: spawns the quota pools, the router and one actor per provider,
// and restarts each of them when it fails (one-for-one, bounded): providers with backoff,
// the router and pools at once, with their state rebuilt (docs/architecture.md,
// "Supervision"). Past the restart budget of the router or a pool it stops, and the process
// with it. Keeps one circuit breaker per provider, fed by the sessions' attempt outcomes.
using engine_actor =
    caf::typed_actor<caf::replies_to<status_atom>::with<std::string>,
                     // Chaos testing: kill an actor; false if there is no such actor running.
                     caf::replies_to<crash_atom, crash_target, std::string>::with<bool>,
                     // A session's attempt on a provider succeeded (first token) or failed.
                     caf::reacts_to<outcome_atom, std::string, bool>>;

}  // namespace streamgate

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(streamgate::crash_target)
