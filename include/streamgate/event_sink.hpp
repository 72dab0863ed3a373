#pragma once

#include <streamgate/stream_event.hpp>

#include <memory>
#include <string>

namespace streamgate {

using event_ptr = std::shared_ptr<const stream_event>;

// Why a session let go of a sink. `cursor_ahead`: an attach asked for the events after a
// seq the log never gave out; nothing was delivered (replaying "after" it would go backwards).
enum class detach_reason { client_gone, slow_consumer, replaced, session_expired, cursor_ahead };

// One attached client of a session: a WebSocket stream, an SSE response, a poll waiter, or
// an embedding application's own receiver. A transport is pluggable because it is only this.
//
// Called from whichever thread produced the event: a CAF worker (the session actor, the mock
// provider, an attach's replay) or an upstream I/O thread (a curl driver, or an HTTP I/O
// thread, which append tokens straight into the session's log). Calls for one sink never
// overlap and come in sequence order, but may come from different threads one after the
// other. So implementations must be thread-safe and must never block: a socket sink posts
// the event onto its connection's strand and returns.
class event_sink {
 public:
  virtual ~event_sink() = default;

  // Returns false when the sink cannot take more (its bounded buffer is full): the session
  // then detaches it with `slow_consumer`, and the sink drops its client with that reason.
  virtual bool deliver(const event_ptr& ev) = 0;

  // An attach's replay offers the log's events here, in order. False: the sink holds as much
  // as it may for now. That is not slowness: the log stops before this event and calls
  // replay_paused, and the rest waits in the log until the sink has room again.
  virtual bool offer(const event_ptr& ev) { return deliver(ev); }

  // The replay stopped after `last_seq` with the sink full; the sink is not attached. Its
  // transport attaches again after `last_seq` once its client has read what it holds. A sink
  // that cannot do that keeps the old rule: a replay that does not fit is a slow consumer.
  virtual void replay_paused(std::uint64_t last_seq) {
    (void)last_seq;
    detached(detach_reason::slow_consumer);
  }

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
