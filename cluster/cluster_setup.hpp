#pragma once

// Turning cluster mode on in an actor system (docs/cluster.md). Kept apart from the node's
// behaviour so that the server and embedders include no middleman header.

#include "cluster/cluster_node_actor.hpp"
#include "cluster/cluster_options.hpp"
#include "cluster/cluster_sessions.hpp"

#include <caf/fwd.hpp>

#include "actors/quota_options.hpp"

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace streamgate {

struct cluster_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Loads CAF's middleman and its TLS manager, points it at the node's certificate, key and the
// cluster's CA, and registers the types that cross nodes. Call on the config before the
// actor_system is built.
void configure_cluster(caf::actor_system_config& cfg, const cluster_options& options);

struct started_node {
  cluster_node_impl actor;
  std::uint16_t port = 0;  // the one bound (chosen by the system for a configured 0)
};

// Spawns the node actor and publishes it, over TLS only, on the cluster address. Throws
// cluster_error when the port cannot be opened or TLS is not configured.
// `sessions`: this node's sessions as peers reach them.
started_node start_cluster_node(caf::actor_system& system, const cluster_options& options,
                                std::map<std::string, quota_options> pools,
                                std::shared_ptr<cluster_sessions> sessions);

}  // namespace streamgate
