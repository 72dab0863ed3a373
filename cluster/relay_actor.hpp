#pragma once

#include "cluster/cluster_atoms.hpp"
#include "cluster/wire_event.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>

namespace streamgate {

// A client's stand-in on its own node while a session on another node serves it: the
// session's node sends it what the session sends a sink (remote_sink), and it passes that to
// the client's sink. Crosses nodes: serializable, covered by cluster_protocol_version.
using relay_actor = caf::typed_actor<caf::reacts_to<event_atom, wire_event>,
                                     // event_sink::attached(last_seq, ended)
                                     caf::reacts_to<attached_atom, std::uint64_t, bool>,
                                     // event_sink::replay_paused(last_seq)
                                     caf::reacts_to<paused_atom, std::uint64_t>,
                                     // event_sink::detached(reason), as detach_reason's value
                                     caf::reacts_to<detached_atom, std::uint8_t>>;

}  // namespace streamgate
