#pragma once

#include "cluster/pool_proxy_actor.hpp"
#include "cluster/relay_actor.hpp"

#include <streamgate/gateway_actor.hpp>

#include <cstdint>
#include <string>

namespace streamgate {

// What one node asks another, over CAF's middleman (docs/cluster.md). Every message here
// crosses nodes: its types are serializable, and changing any of them bumps
// cluster_protocol_version.
using cluster_node_actor = caf::typed_actor<
    // Joining: the caller's protocol version, its node id, and its agreement digest
    // (cluster_options::agreement_digest). Answers this node's id, or refuses a caller of
    // another version or configuration; nothing else is answered before.
    caf::replies_to<hello_atom, std::uint32_t, std::string, std::string>::with<std::string>,
    // The quota pool of that name, which this node owns.
    caf::replies_to<pool_atom, std::string>::with<quota_pool_actor>,
    // How many leases of the pool this node holds beyond its degraded share.
    caf::replies_to<overage_atom, std::string>::with<std::uint32_t>,
    // A client on the caller's node resumes this node's session `id` after a seq, as the key
    // tagged `owner` (start_options::owner): the session serves `relay` as one of its sinks.
    // False: no such session here (or another key's).
    caf::replies_to<attach_atom, std::string, std::uint64_t, std::string, relay_actor>::with<bool>,
    // That client left.
    caf::reacts_to<detach_atom, std::string, relay_actor>,
    // Cancel this node's session `id` for the key tagged `owner`.
    caf::replies_to<cancel_atom, std::string, std::string>::with<bool>>;

// The node's interface to its own engine and proxies (never another node).
using cluster_node_impl = cluster_node_actor::extend<
    // The engine (re)started a pool this node owns.
    caf::reacts_to<own_atom, std::string, quota_pool_control>,
    // The engine (re)started the local face of a pool another node owns.
    caf::reacts_to<proxy_atom, std::string, pool_proxy_actor>,
    // A proxy lost its owner's pool: find it again.
    caf::reacts_to<owner_lost_atom, std::string>,
    // The sum of what the connected peers hold of the pool beyond their shares.
    caf::replies_to<peers_atom, std::string>::with<std::uint32_t>,
    // Dial the peers that are not connected.
    caf::reacts_to<dial_atom>,
    // A relay: the connected peer with this node id, to attach to its session (an error when
    // that node is not connected).
    caf::replies_to<peer_atom, std::string>::with<cluster_node_actor>,
    // The gateway: cancel another node's session; the id names the node.
    caf::reacts_to<remote_atom, cancel_atom, std::string, std::string>>;

}  // namespace streamgate
