#pragma once

// The cluster node actor (docs/cluster.md): published on the cluster port, it answers the
// peers' hello, hands out the pools this node owns, dials the configured peers until they
// answer, and tells this node's proxies where their owners' pools are.

#include "actors/quota_options.hpp"
#include "cluster/cluster_node_actor.hpp"
#include "cluster/cluster_options.hpp"
#include "cluster/cluster_sessions.hpp"

#include <caf/io/middleman_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace streamgate {

struct peer_link {
  cluster_peer config;
  cluster_node_actor handle;  // null while unreachable
  bool dialing = false;
  std::string last_problem;  // logged once per change, not per dial
  caf::node_id node{};       // its CAF node when last connected (a restart makes a new one)
};

struct cluster_node_state {
  static inline const char* name = "cluster_node";

  cluster_options options;
  std::string digest;               // agreement_digest of this node's configuration
  caf::io::middleman_actor dialer;  // the TLS manager's middleman
  std::vector<peer_link> peers;
  std::set<caf::node_id> greeted;  // nodes that said hello with our version and digest
  std::map<std::string, quota_pool_control> owned;
  std::map<std::string, quota_options> limits;  // every pool's, cluster-wide
  std::map<std::string, pool_proxy_actor> proxies;
  std::shared_ptr<cluster_sessions> sessions;
  // Clients of other nodes this node's sessions serve, by their relay (monitored): the
  // session's id and the sink it serves them through.
  std::map<caf::actor_addr, std::pair<std::string, sink_ptr>> served;
};

using cluster_node_pointer = cluster_node_impl::stateful_pointer<cluster_node_state>;

// `pools`: every quota pool's limits (their names go into the agreement digest).
cluster_node_impl::behavior_type cluster_node(cluster_node_pointer self, cluster_options options,
                                              std::map<std::string, quota_options> pools,
                                              caf::io::middleman_actor dialer,
                                              std::shared_ptr<cluster_sessions> sessions);

}  // namespace streamgate
