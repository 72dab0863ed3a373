#pragma once

#include "actors/atoms.hpp"
#include "actors/session_actor.hpp"

#include <streamgate/chat_request.hpp>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace streamgate {

class event_log;

// One upstream request (HTTP transfer or mock generator). It appends its non-terminal events
// (deltas, usage) to its session's event_log through the lane (upstream_target), and reports
// its terminal event to the session with (upstream_atom, attempt, stream_event). Exactly one
// terminal event ends it, unless it is cancelled first; once the session closed the lane
// (cancel, failover, deadline) nothing more of the attempt gets into the log.
using upstream_actor = caf::typed_actor<caf::reacts_to<cancel_atom>>;

// Where an upstream attempt reports: non-terminal events into the session's log while the
// session keeps the lane open for `attempt`, the terminal event to the session actor.
struct upstream_target {
  session_actor session;
  std::uint32_t attempt = 0;
  std::shared_ptr<event_log> log;
};

// A configured provider: opens upstream streams for sessions.
using provider_actor = caf::typed_actor<
    caf::replies_to<open_atom, chat_request, upstream_target>::with<upstream_actor>>;

// Where sessions report each attempt's outcome per provider (the engine's circuit breakers).
using provider_health_actor = caf::typed_actor<caf::reacts_to<outcome_atom, std::string, bool>>;

}  // namespace streamgate

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(streamgate::upstream_target)
