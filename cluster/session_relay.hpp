#pragma once

// The relay on a client's node (relay_actor.hpp): it hands what a session on another node
// sends to the client's sink, and tells that node when the client leaves.

#include "cluster/cluster_node_actor.hpp"
#include "cluster/cluster_sessions.hpp"
#include "cluster/relay_actor.hpp"

#include <caf/stateful_actor.hpp>

#include <memory>
#include <string>

namespace streamgate {

struct session_relay_state {
  static inline const char* name = "session_relay";
  std::string session_id;
  sink_ptr sink;
  std::shared_ptr<relay_table> table;
  cluster_node_actor owner;  // the session's node, once it accepted the attach
  // Its work ends with both: an attach's replay ends with attached(), which follows the
  // terminal event of a session that ended already, and precedes that of a running one.
  bool attached = false;
  bool ended = false;
  std::uint64_t last_seq = 0;  // the newest event the client's sink took
};

// The relay's interface plus its own node's messages: the session's node accepted the
// attach (watch it), and the client left (detach_atom).
using session_relay_impl = relay_actor::extend<caf::reacts_to<owner_atom, cluster_node_actor>,
                                               caf::reacts_to<detach_atom>>;
using session_relay_pointer = session_relay_impl::stateful_pointer<session_relay_state>;

session_relay_impl::behavior_type session_relay(session_relay_pointer self, std::string session_id,
                                                sink_ptr sink, std::shared_ptr<relay_table> table);

}  // namespace streamgate
