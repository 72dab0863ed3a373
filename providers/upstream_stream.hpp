#pragma once

#include "actors/provider_actor.hpp"
#include "providers/http/provider_config.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace streamgate {

class transfer_runner;

// One HTTP request to a provider, as an actor of its own (the upstream stream actor of the
// design): it owns its transfer on the driver and reports the terminal event to its session;
// deltas go from the driver thread straight into the session's log (the lane). Others see it
// as an upstream_actor. It quits on cancel, on the terminal event, or when its session dies,
// and the transfer goes with it: the upstream socket is closed. Spawned by `provider`, which
// it belongs to.
upstream_actor spawn_upstream_stream(provider_actor::pointer provider, upstream_target target,
                                     std::string provider_name, upstream_request request,
                                     std::shared_ptr<transfer_runner> driver,
                                     std::atomic<std::int64_t>* upstreams);

}  // namespace streamgate
