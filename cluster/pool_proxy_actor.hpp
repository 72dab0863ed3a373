#pragma once

#include "actors/quota_pool_actor.hpp"
#include "cluster/cluster_atoms.hpp"

namespace streamgate {

// A quota pool that another node owns, as this node's sessions see it: the quota pool's
// interface (sessions cannot tell it from a local pool), plus what its node tells it.
using pool_proxy_actor = quota_pool_actor::extend<
    // The owner's pool was found (or, as a null handle, is out of reach).
    caf::reacts_to<owner_atom, quota_pool_actor>,
    // How many leases this node holds beyond its degraded share (a peer asks through the
    // node, to hold that many back while it serves in degraded mode itself).
    caf::replies_to<overage_atom>::with<std::uint32_t>>;

}  // namespace streamgate
