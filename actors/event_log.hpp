#pragma once

#include "actors/log_budget.hpp"

#include <streamgate/event_sink.hpp>
#include <streamgate/stream_event.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace streamgate {

namespace metrics {
class counter;
class histogram;
}  // namespace metrics

// A session's event log and its attached sinks. The session actor owns it and makes every
// decision; the one thing done elsewhere is the *lane*: the upstream of the attempt the
// session opened it for appends that attempt's non-terminal events (deltas, usage) itself,
// on its own thread, and they reach the sinks without a hop through the session's mailbox.
// A hop is a thread wake-up per token, the largest cost of a streamed chunk (docs/
// benchmarks.md). Terminal events, failover and cancellation still go through the actor:
// close_lane() is the fence after which nothing of that attempt gets in, so "nothing follows
// a cancel" holds as before. Thread-safe: one mutex. Sinks are called under it, so every
// sink sees the log's order (they never block and never call back); the hooks are called
// outside it.
class event_log {
 public:
  using clock = std::chrono::steady_clock;

  struct options {
    sink_ptr first_sink;  // may be null
    sink_ptr observer;    // sees every logged event; not a client (session_service.hpp)
    clock::time_point started_at;
    std::function<clock::time_point()> now;
    // Called (outside the lock, on the upstream's thread) when the lane logged the first
    // delta: the actor learns that `attempt` streams, and failover is over.
    std::function<void(std::uint32_t attempt)> first_delta;
    // Called when slow consumers were dropped on the lane and no sink is left.
    std::function<void()> sinks_lost;
    // The process-wide budget the log's events count against (null: none), and how the log
    // asks its session to go when the budget picks it (see log_budget.hpp).
    std::shared_ptr<log_budget> budget;
    log_budget::evict_fn evicted;
    metrics::histogram* ttft = nullptr;
    metrics::histogram* gap = nullptr;
    metrics::counter* bytes = nullptr;
  };

  // What an append did, for the caller's state machine.
  struct appended {
    bool logged = false;           // false: the log already ended, or the lane refused
    bool first_delta = false;      // the log's first delta: the first token
    bool sinks_lost = false;       // slow consumers were dropped and no sink is left
    std::uint64_t heap_bytes = 0;  // what the event added to the log's memory
  };

  explicit event_log(options o);
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;
  ~event_log();

  // Session side. Logs `ev` (any kind) and hands it to every sink; a terminal event ends the
  // log and lets go of the sinks (each has its terminal event and closes on its own).
  appended append(stream_event ev);
  // Lets `attempt`'s upstream append its non-terminal events itself; closes any earlier lane.
  void open_lane(std::uint32_t attempt);
  void close_lane();
  // Replays the log after `after_seq` into the sink, then streams live into it unless the log
  // has ended. True when the sink now streams live (false: the replay held the terminal
  // event; the sink was full and was told replay_paused; or `after_seq` is beyond the log's
  // end and the sink was told cursor_ahead).
  bool attach(sink_ptr sink, std::uint64_t after_seq);
  // True when this left the log with no sink while it has not ended.
  bool detach(const sink_ptr& sink);
  // Lets go of every sink without telling them (the session is going away).
  void drop_sinks();

  // Upstream side, any thread: false when the lane is not open for `attempt` (the session
  // abandoned it), or for a terminal event, which must go through the session actor.
  bool append_from_upstream(std::uint32_t attempt, stream_event ev);

  // For decisions and the access log.
  bool has_sinks() const;
  bool has_deltas() const;
  std::uint64_t size() const;
  event_ptr last() const;
  std::uint32_t tokens() const;
  std::uint64_t bytes() const;
  // What the logged events cost the heap (the events, their text, the log's index).
  std::uint64_t held_bytes() const { return account_.bytes(); }
  clock::time_point first_token_at() const;

 private:
  appended append_locked(stream_event&& ev, clock::time_point now);

  options opts_;
  log_budget::account account_;
  mutable std::mutex mutex_;
  std::vector<event_ptr> events_;  // seq N is events_[N - 1]
  std::vector<sink_ptr> sinks_;
  bool ended_ = false;
  std::uint32_t lane_ = 0;  // the attempt whose upstream may append; 0: none
  std::uint32_t tokens_ = 0;
  std::uint64_t bytes_ = 0;
  clock::time_point first_token_at_{};
  clock::time_point last_delta_at_{};
};

}  // namespace streamgate
