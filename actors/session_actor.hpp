#pragma once

#include "actors/atoms.hpp"
#include "actors/quota_pool_actor.hpp"

#include <streamgate/event_sink.hpp>
#include <streamgate/stream_event.hpp>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>

namespace streamgate {

// A client request's life: the state machine, the event log, the attached sinks.
using session_actor = caf::typed_actor<
    // An upstream's event for attempt number `attempt`; events of a superseded attempt, or
    // of one the session stopped or gave up (the lane's fence, for mailbox events), are
    // ignored. Terminal events come this way; non-terminal ones may too (the lane is the
    // fast way).
    caf::reacts_to<upstream_atom, std::uint32_t, stream_event>,
    // The lane logged the first delta of attempt `attempt`: it streams, failover is over.
    caf::reacts_to<first_delta_atom, std::uint32_t>,
    // The lane dropped the last sink as a slow consumer.
    caf::reacts_to<sinks_lost_atom>,
    // Replay the log after `after_seq` to the sink, then stream live into it.
    caf::reacts_to<attach_atom, sink_ptr, std::uint64_t>, caf::reacts_to<detach_atom, sink_ptr>,
    caf::reacts_to<cancel_atom>,
    // Server shutdown: end the stream with server_shutting_down.
    caf::reacts_to<shutdown_atom>,
    // The log budget is spent and picked this session: an ended one goes away now, a running
    // one ends with log_budget_exceeded and goes away too (log_budget.hpp).
    caf::reacts_to<evict_atom>,
    // A quota pool crashed and was restarted: the old handle, then the new one. A lease or a
    // queue wait at the old pool moves to the new one (quota_carry).
    caf::reacts_to<pool_atom, quota_pool_actor, quota_pool_actor>>;

}  // namespace streamgate
