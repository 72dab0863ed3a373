#pragma once

#include "actors/provider_actor.hpp"

#include <memory>

namespace streamgate {

class upstream_opener;

// One transfer of `opener` as an actor of its own (the upstream stream actor of the design),
// for a session that reached the provider through its actor (open_atom) rather than through
// its opener: it holds the transfer and forwards the terminal event to the session; deltas go
// from the driver thread straight into the session's log (the lane). It quits on cancel, on the
// terminal event, or when its session dies, and the transfer goes with it: the upstream socket
// is closed. Spawned by `provider`.
upstream_actor spawn_upstream_stream(provider_actor::pointer provider,
                                     std::shared_ptr<upstream_opener> opener,
                                     const chat_request& request, upstream_target target);

}  // namespace streamgate
