#pragma once

#include "actors/event_log.hpp"
#include "actors/provider_actor.hpp"
#include "actors/router_actor.hpp"
#include "actors/router_ref.hpp"
#include "actors/session_actor.hpp"

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace streamgate {

class session_registry;

struct session_options {
  // How long a session with no attached client keeps running, and how long an ended
  // session's log stays readable for a resuming client.
  std::chrono::milliseconds resume_window{30000};
  // Upstream attempts before the first token (failover), and the time they may take.
  std::uint32_t max_attempts = 3;
  std::chrono::milliseconds open_timeout{10000};
  // Everything before the first token — waiting for quota, every attempt — fits in this.
  std::chrono::milliseconds attempt_deadline{30000};
};

struct session_init {
  std::string id;
  chat_request request;
  sink_ptr first_sink;                 // may be null
  sink_ptr observer;                   // may be null (start_options::observer)
  std::string transport = "embedded";  // for logs and metrics: sse, ws, poll, http, embedded
  bool cancel_on_detach = false;
  std::shared_ptr<router_ref> router;    // the engine's: it follows the router's restarts
  provider_health_actor health;          // may be null: nobody keeps circuit breakers
  session_registry* registry = nullptr;  // outlives every session (owned by the engine)
  session_options options;
  std::shared_ptr<log_budget> budget;  // what every session log counts against (null: none)
};

// queued: routing and opening an upstream; streaming: the first token went out;
// the last three are terminal: exactly one terminal event is ever logged.
enum class session_phase { queued, streaming, finished, cancelled, failed };

const char* to_string(session_phase p);

struct session_state {
  static inline const char* name = "session";

  std::string id;
  chat_request request;
  session_options options;
  session_phase phase = session_phase::queued;
  bool cancel_on_detach = false;

  // The event log and the attached sinks, shared with the current attempt's upstream (its
  // lane); see event_log.hpp.
  std::shared_ptr<event_log> log;
  std::uint64_t expire_generation = 0;

  std::shared_ptr<router_ref> router;
  provider_health_actor health;
  session_registry* registry = nullptr;
  route_plan plan;
  std::vector<bool> tried;                    // per plan candidate: an attempt was made
  std::vector<std::uint32_t> refused_for_ms;  // per candidate: its pool's last retry-after
  std::uint32_t attempt = 0;                  // number of the current upstream attempt, 1-based
  bool outcome_reported = false;              // for the current attempt, to the circuit breakers
  // The current attempt's upstream: an actor (opened through the provider's actor), or a
  // transfer the session started itself (through the provider's opener), or neither.
  upstream_actor upstream;
  std::unique_ptr<upstream_transfer> transfer;
  std::string provider;       // of the current attempt
  stream_event last_failure;  // why the previous attempt failed, for the final error
  // The quota lease of the current attempt (id 0: none held).
  quota_pool_actor lease_pool;
  std::uint64_t lease_id = 0;
  // The pool whose queue this session waits in (null: none), told when the session ends.
  quota_pool_actor waiting_pool;
  std::uint64_t wait_generation =
      0;                             // the queue wait now asked for; an older one's answer is stale
  std::uint64_t reclaiming = 0;      // the lease id being carried over to a restarted pool
  std::uint32_t quota_refusals = 0;  // pools that had no room for this session
  bool plan_refreshed = false;       // asked the router again after a provider restart

  // For the access log line.
  std::string transport;
  caf::actor_clock::time_point started_at;
  // The current attempt is under way: its events are taken, and its outcome is not yet
  // counted in the stats. Closed when it ends or the session stops it.
  bool attempt_open = false;
  // The upstream told to stop, and when: its exit gives the cancel latency.
  caf::actor_addr stopping_upstream;
  caf::actor_clock::time_point stop_sent_at;
  std::string stopping_provider;

  session_state() = default;
  session_state(const session_state&) = delete;
  session_state& operator=(const session_state&) = delete;
  ~session_state();  // still attached clients leave the clients gauge

  bool ended() const {
    return phase == session_phase::finished || phase == session_phase::cancelled ||
           phase == session_phase::failed;
  }
};

// The session's interface plus its own timers.
using session_impl = session_actor::extend<
    // Resume-window timer, tagged with a generation so stale timers are ignored.
    caf::reacts_to<expire_atom, std::uint64_t>,
    // The failover deadline: no first token by now ends the session with the last error.
    caf::reacts_to<deadline_atom>,
    // Ask the router again: the only candidates were restarting.
    caf::reacts_to<route_atom>>;

using session_pointer = session_impl::stateful_pointer<session_state>;

session_impl::behavior_type session_behavior(session_pointer self, session_init init);

}  // namespace streamgate
