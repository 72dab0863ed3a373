#pragma once

// A node's place in a cluster, as configured (docs/cluster.md), without CAF: configuration
// readers and tests include only this.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace streamgate {

struct cluster_peer {
  std::string id;
  std::string host;
  std::uint16_t port = 0;
};

// Mutual TLS between nodes: each presents a certificate signed by the shared CA and accepts
// only peers that do, so a stranger cannot join.
struct cluster_tls {
  std::string certificate;  // PEM chain of this node
  std::string key;          // its private key (PEM)
  std::string ca;           // the cluster's CA certificate (PEM)
};

struct cluster_options {
  bool enabled = false;
  std::string node_id;
  std::string listen_host;  // a private address: the cluster port never faces clients
  std::uint16_t listen_port = 0;
  std::vector<cluster_peer> peers;  // every other node of the cluster
  cluster_tls tls;
  // Quota pool → the node that owns it; a pool not named here goes to the node that
  // rendezvous hashing picks among all configured nodes.
  std::map<std::string, std::string> owners;
  // A pool owner that (re)starts grants nothing for this long, so that nodes which kept
  // serving in degraded mode report their leases and grants first.
  std::chrono::milliseconds rejoin_hold{1000};
  // How often an unreachable peer is dialled again.
  std::chrono::milliseconds reconnect_interval{500};
  // The longest any request to another node may take before it counts as unanswered.
  std::chrono::milliseconds request_timeout{2000};

  // Every node id of the cluster, sorted: the same list on every node.
  std::vector<std::string> node_ids() const;
  // The node that owns `pool`.
  std::string owner_of(const std::string& pool) const;
  // This node's part of `limit` in degraded mode: an equal share by node rank, the remainder
  // to the first nodes, so that the parts of all configured nodes add up to `limit` exactly.
  // 0 stays 0 (no limit).
  std::uint32_t share_of(std::uint32_t limit) const;
  // The same for another node of the cluster.
  std::uint32_t share_of(std::uint32_t limit, const std::string& node) const;
  // A digest of what must agree between nodes (their ids and the pools' owners): nodes that
  // disagree would each think they own a pool, so one refuses the other.
  std::string agreement_digest(const std::vector<std::string>& pools) const;
};

// Session ids name their node in cluster mode: "<id>.<node>" (a node id is never empty and an
// id of one node alone has no '.'). The node of an id, or "" when it names none.
std::string session_node(const std::string& session_id);

// A cluster session id binds the tag of the key that started it (start_options::owner): the
// last 8 hex digits of its random part are a hash of the tag and the rest. Any node can then
// refuse another key's resume or cancel at once, without asking the session's node (which
// checks again). Nothing here is secret: the tag checked is the one the caller's own key
// proved, and a caller cannot choose its key's name.
std::string bind_session_id(const std::string& random_id, const std::string& owner,
                            const std::string& node);
bool session_bound_to(const std::string& session_id, const std::string& owner);

// The version of the messages nodes exchange (docs/cluster.md, "Rolling upgrades"): bumped
// whenever a message that crosses nodes changes. A node refuses a peer of another version.
constexpr std::uint32_t cluster_protocol_version = 1;

}  // namespace streamgate
