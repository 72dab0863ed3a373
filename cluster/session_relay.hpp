#pragma once

// The relay on a client's node (relay_actor.hpp): it asks the session's node to serve it,
// hands what that session sends to the client's sink, and tells that node when the client
// leaves.

#include "cluster/cluster_node_actor.hpp"
#include "cluster/relay_actor.hpp"

#include <caf/stateful_actor.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace streamgate {

class relay_table;

// The attach a relay makes on its client's behalf.
struct relay_request {
  std::string session_id;
  std::uint64_t after_seq = 0;
  std::string owner;                        // the tag of the client's key (start_options::owner)
  std::chrono::milliseconds timeout{2000};  // each of its two requests (cluster options)
};

struct session_relay_state {
  static inline const char* name = "session_relay";
  std::string session_id;
  sink_ptr sink;
  std::shared_ptr<relay_table> table;
  cluster_node_actor peer;  // the session's node, once it accepted the attach
  // Its work ends with both: an attach's replay ends with attached(), which follows the
  // terminal event of a session that ended already, and precedes that of a running one.
  bool attached = false;
  bool ended = false;
  std::uint64_t last_seq = 0;  // the newest event the client's sink took
};

// The relay's interface plus the client leaving (its gateway's detach).
using session_relay_impl = relay_actor::extend<caf::reacts_to<detach_atom>>;
using session_relay_pointer = session_relay_impl::stateful_pointer<session_relay_state>;

// `node`: this node's cluster actor, which names the session's node's actor.
session_relay_impl::behavior_type session_relay(session_relay_pointer self, relay_request request,
                                                sink_ptr sink, cluster_node_impl node,
                                                std::shared_ptr<relay_table> table);

// Relays of this node's clients served by other nodes' sessions, by (session, sink): how a
// transport's detach finds its relay. A relay takes itself out when its work ends.
class relay_table {
 public:
  void add(const std::string& id, const event_sink* sink, session_relay_impl relay);
  // The relay, taken out of the table (null if none).
  session_relay_impl take(const std::string& id, const event_sink* sink);

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, const event_sink*>, session_relay_impl> relays_;
};

}  // namespace streamgate
