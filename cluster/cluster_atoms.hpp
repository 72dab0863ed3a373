#pragma once

#include <caf/atom.hpp>

namespace streamgate {

using hello_atom = caf::atom_constant<caf::atom("sg_hello")>;
using owner_atom = caf::atom_constant<caf::atom("sg_owner")>;
using overage_atom = caf::atom_constant<caf::atom("sg_over")>;
using owner_lost_atom = caf::atom_constant<caf::atom("sg_olost")>;
using own_atom = caf::atom_constant<caf::atom("sg_own")>;
using proxy_atom = caf::atom_constant<caf::atom("sg_proxy")>;
using peers_atom = caf::atom_constant<caf::atom("sg_peers")>;
using dial_atom = caf::atom_constant<caf::atom("sg_dial")>;
using event_atom = caf::atom_constant<caf::atom("sg_event")>;
using attached_atom = caf::atom_constant<caf::atom("sg_atchd")>;
using detached_atom = caf::atom_constant<caf::atom("sg_dtchd")>;
using paused_atom = caf::atom_constant<caf::atom("sg_paused")>;
using remote_atom = caf::atom_constant<caf::atom("sg_remote")>;
using peer_atom = caf::atom_constant<caf::atom("sg_peer")>;

}  // namespace streamgate
