#pragma once

#include "actors/stream_event.hpp"

#include <memory>
#include <string>

namespace streamgate {

using event_ptr = std::shared_ptr<const stream_event>;

// Why a session let go of a sink.
enum class detach_reason { client_gone, slow_consumer, replaced, session_expired };

// One attached client of a session: a WebSocket stream, an SSE response, a poll waiter, or
// an embedding application's own receiver. A transport is pluggable because it is only this.
//
// Sessions call these from an actor thread, so implementations must be thread-safe and must
// never block: a socket sink posts the event onto its connection's strand and returns.
class event_sink {
 public:
  virtual ~event_sink() = default;

  // Returns false when the sink cannot take more (its bounded buffer is full): the session
  // then detaches it with `slow_consumer`, and the sink drops its client with that reason.
  virtual bool deliver(const event_ptr& ev) = 0;

  // Sent once after an attach has replayed the log: `last_seq` is the newest event so far,
  // `ended` says whether the log already holds the terminal event.
  virtual void attached(std::uint64_t last_seq, bool ended) {
    (void)last_seq;
    (void)ended;
  }

  // The session no longer delivers to this sink (not called for a sink that detached itself).
  virtual void detached(detach_reason) {}

  // Label for metrics and logs: "sse", "ws", "poll", "embedded".
  virtual const char* transport() const = 0;
};

using sink_ptr = std::shared_ptr<event_sink>;

}  // namespace streamgate
