#pragma once

// The engine's internal message tags. The ones an embedding application uses (start, attach,
// detach, cancel, status, shutdown) are public, in <streamgate/gateway_actor.hpp>.

#include <streamgate/gateway_actor.hpp>

#include <caf/atom.hpp>

namespace streamgate {

using open_atom = caf::atom_constant<caf::atom("sg_open")>;
using upstream_atom = caf::atom_constant<caf::atom("sg_up")>;
using route_atom = caf::atom_constant<caf::atom("sg_route")>;
using lookup_atom = caf::atom_constant<caf::atom("sg_lookup")>;
using provider_atom = caf::atom_constant<caf::atom("sg_prov")>;
using health_atom = caf::atom_constant<caf::atom("sg_health")>;
using outcome_atom = caf::atom_constant<caf::atom("sg_outcome")>;
using acquire_atom = caf::atom_constant<caf::atom("sg_acq")>;
using release_atom = caf::atom_constant<caf::atom("sg_rel")>;
using withdraw_atom = caf::atom_constant<caf::atom("sg_wdraw")>;
using pause_atom = caf::atom_constant<caf::atom("sg_pause")>;
using first_delta_atom = caf::atom_constant<caf::atom("sg_first")>;
using sinks_lost_atom = caf::atom_constant<caf::atom("sg_lost")>;
using evict_atom = caf::atom_constant<caf::atom("sg_evict")>;
using reclaim_atom = caf::atom_constant<caf::atom("sg_reclm")>;
using pool_atom = caf::atom_constant<caf::atom("sg_pool")>;
// Timers an actor sends itself; never part of an interface other actors see.
using expire_atom = caf::atom_constant<caf::atom("sg_expire")>;
using deadline_atom = caf::atom_constant<caf::atom("sg_dline")>;
using tick_atom = caf::atom_constant<caf::atom("sg_tick")>;
using rejoin_atom = caf::atom_constant<caf::atom("sg_rejoin")>;
using hold_back_atom = caf::atom_constant<caf::atom("sg_holdbk")>;
using unreachable_atom = caf::atom_constant<caf::atom("sg_unreach")>;
using reachable_atom = caf::atom_constant<caf::atom("sg_reach")>;

}  // namespace streamgate
