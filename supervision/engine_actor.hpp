#pragma once

#include "actors/atoms.hpp"
#include "actors/router_actor.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>

namespace streamgate {

using get_router_atom = caf::atom_constant<caf::atom("sg_router")>;
using crash_atom = caf::atom_constant<caf::atom("sg_crash")>;

// The root of the actor tree: spawns the quota pools, the router and one actor per provider;
// restarts providers that fail (one-for-one, bounded, with backoff); keeps one circuit
// breaker per provider, fed by the sessions' attempt outcomes, and tells the router.
using engine_actor =
    caf::typed_actor<caf::replies_to<get_router_atom>::with<router_actor>,
                     // Providers' supervision state as a JSON array (the admin view).
                     caf::replies_to<status_atom>::with<std::string>,
                     // Chaos testing: kill the named provider actor; false if there is none.
                     caf::replies_to<crash_atom, std::string>::with<bool>,
                     // A session's attempt on a provider succeeded (first token) or failed.
                     caf::reacts_to<outcome_atom, std::string, bool>>;

}  // namespace streamgate
