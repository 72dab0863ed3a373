#pragma once

// The session actor's operations, private to its two source files: session.cpp (the event
// log, sinks and lifecycle) and session_attempts.cpp (routing, quota leases, failover). Each
// message handler reads as one step of the state machine.

#include "actors/session.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace streamgate {

class session_ops {
 public:
  explicit session_ops(session_pointer self) : self_(self), st_(self->state) {}

  // Logs the event, hands it to every sink, and moves the state machine.
  void emit(stream_event ev);
  // The first token went out (through the actor or the lane): no failover from now on.
  void on_first_delta();
  // The lane logged the first delta of `attempt` while the actor was elsewhere.
  void on_lane_first_delta(std::uint32_t attempt);
  // Slow consumers were dropped and no client is left: a detach like any other.
  void on_sinks_lost();
  // Still queued: no delta is in the log, not even one the lane logged a moment ago.
  bool before_first_token() const;
  void attach(sink_ptr sink, std::uint64_t after_seq);
  void detach(const sink_ptr& sink);
  // Ends the stream on the client's or the window's behalf and stops the upstream.
  void cancel(std::string_view why);
  void fail(std::string_view code, std::string message);
  // Stops the current upstream; `outcome` labels its attempt in the metrics.
  void stop_upstream(std::string_view outcome);
  void end_attempt(std::string_view outcome);
  // Asks the router for the candidates, again later while they are all restarting.
  void route();
  // The plan to follow: its first candidate with room, or routing again while all restart.
  void follow(route_plan plan);
  bool route_again_soon();
  // The next attempt: the first untried candidate whose pool has room now, else a wait in
  // the queue of the pool that expects room soonest; bounded by max_attempts and the deadline.
  void try_next_candidate();
  void seek_room(std::size_t pos);
  // No candidate has room now: queue (FIFO) at the one whose pool frees up soonest.
  void wait_for_room();
  // A pool's answer: a lease opens the candidate; a lease that arrives after the session ended
  // goes straight back. False when the pool refused: the caller decides what comes next.
  bool take_lease(std::size_t pos, const quota_lease& lease);
  void note_refusal(std::size_t pos, std::uint32_t retry_after_ms);
  // Out of candidates, attempts or time: the client gets one explicit error.
  void give_up();
  void open_candidate(std::size_t pos, std::uint64_t lease_id);
  // The candidate's provider has an opener: the session starts the transfer itself.
  void open_directly(std::size_t pos);
  void refresh_and_reopen(std::size_t pos);
  // The current handles are in: the same provider again with the lease held, if it is up.
  void reopen_with(std::size_t pos, const route_plan& fresh);
  // An attempt ended in error: before the first token another provider may take over.
  void attempt_failed(stream_event ev);
  void report_outcome(bool ok);
  void release_lease();
  // The session ended while queued: its place goes to the next waiter now, not at its deadline.
  void leave_queue();
  // A crashed quota pool was restarted: the plan, the lease and the queue wait follow it.
  void on_pool_restarted(const quota_pool_actor& old, const quota_pool_actor& fresh);
  // No first token within the deadline: whatever is under way is abandoned.
  void on_deadline();
  void on_upstream_event(std::uint32_t attempt, stream_event ev);
  void arm_expiry();
  void on_expiry(std::uint64_t gen);
  // The log budget picked this session: it goes now, ending its stream first if it runs.
  void on_evicted();
  // What is left of the attempt deadline.
  std::chrono::milliseconds remaining() const;

 private:
  void on_ended();
  // One line per finished session: what operators grep for first.
  void write_access_log();

  session_pointer self_;
  session_state& st_;
};

}  // namespace streamgate
