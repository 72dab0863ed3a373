#pragma once

// The messages and typed interfaces between actors: the contract of the engine in one screen.
// Includes CAF; only actor implementations include it, never transports.

#include <streamgate/gateway_actor.hpp>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace streamgate {

class event_log;

using open_atom = caf::atom_constant<caf::atom("sg_open")>;
using upstream_atom = caf::atom_constant<caf::atom("sg_up")>;
using route_atom = caf::atom_constant<caf::atom("sg_route")>;
using expire_atom = caf::atom_constant<caf::atom("sg_expire")>;
using tick_atom = caf::atom_constant<caf::atom("sg_tick")>;
using provider_atom = caf::atom_constant<caf::atom("sg_prov")>;
using acquire_atom = caf::atom_constant<caf::atom("sg_acq")>;
using release_atom = caf::atom_constant<caf::atom("sg_rel")>;
using pause_atom = caf::atom_constant<caf::atom("sg_pause")>;
using outcome_atom = caf::atom_constant<caf::atom("sg_outcome")>;
using health_atom = caf::atom_constant<caf::atom("sg_health")>;
using deadline_atom = caf::atom_constant<caf::atom("sg_dline")>;
using lookup_atom = caf::atom_constant<caf::atom("sg_lookup")>;
using first_delta_atom = caf::atom_constant<caf::atom("sg_first")>;
using sinks_lost_atom = caf::atom_constant<caf::atom("sg_lost")>;
using withdraw_atom = caf::atom_constant<caf::atom("sg_wdraw")>;
using evict_atom = caf::atom_constant<caf::atom("sg_evict")>;

// One upstream request (HTTP transfer or mock generator). It appends its non-terminal events
// (deltas, usage) to its session's event_log through the lane (upstream_target), and reports
// its terminal event to the session with (upstream_atom, attempt, stream_event). Exactly one
// terminal event ends it, unless it is cancelled first; once the session closed the lane
// (cancel, failover, deadline) nothing more of the attempt gets into the log.
using upstream_actor = caf::typed_actor<caf::reacts_to<cancel_atom>>;

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
    // Resume-window timer, tagged with a generation so stale timers are ignored.
    caf::reacts_to<expire_atom, std::uint64_t>,
    // The failover deadline: no first token by now ends the session with the last error.
    caf::reacts_to<deadline_atom>,
    // The log budget is spent and picked this session: an ended one goes away now, a running
    // one ends with log_budget_exceeded and goes away too (log_budget.hpp).
    caf::reacts_to<evict_atom>,
    // Ask the router (again): the only candidates were restarting.
    caf::reacts_to<route_atom>>;

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

// A quota pool's answer to acquire: a lease, or a refusal with the time after which asking
// again may succeed.
struct quota_lease {
  bool granted = false;
  std::uint64_t id = 0;              // pass back in release
  std::uint32_t retry_after_ms = 0;  // refusals only
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, quota_lease& x) {
  return f(caf::meta::type_name("streamgate::quota_lease"), x.granted, x.id, x.retry_after_ms);
}

// Requests-per-minute and concurrent-stream limits of one provider or shared quota key.
// The sender of acquire holds the lease: the pool monitors it and releases the lease when it
// dies, so a lease cannot leak.
using quota_pool_actor = caf::typed_actor<
    // Wait up to `wait_ms` in the FIFO queue for a lease (0: answer at once).
    caf::replies_to<acquire_atom, std::uint32_t>::with<quota_lease>,
    caf::reacts_to<release_atom, std::uint64_t>,
    // The sender no longer waits (its session ended while queued): its queued requests leave
    // the queue at once and are answered with a refusal, so neither the queue length nor
    // max_queue counts a waiter nobody will use.
    caf::reacts_to<withdraw_atom>,
    // The upstream said 429 Retry-After: grant nothing for this many milliseconds.
    caf::reacts_to<pause_atom, std::uint32_t>,
    // Timers: a queued request's deadline (by ticket), and "capacity may have freed up".
    caf::reacts_to<deadline_atom, std::uint64_t>, caf::reacts_to<tick_atom, std::uint64_t>>;

// Where sessions report each attempt's outcome per provider (the engine's circuit breakers).
using provider_health_actor = caf::typed_actor<caf::reacts_to<outcome_atom, std::string, bool>>;

struct route_candidate {
  std::string provider;
  provider_actor handle;
  quota_pool_actor pool;  // null: no quota limits
};

// Which providers may serve a model, in the order to try them.
struct route_plan {
  std::vector<route_candidate> candidates;
  // A candidate was left out only because its actor is being restarted: routing again in a
  // moment may find it.
  bool restarting = false;
};

using router_actor = caf::typed_actor<caf::replies_to<route_atom, std::string>::with<route_plan>,
                                      // The current handles of every provider of the model
                                      // that is up, in configured order: no breaker probe
                                      // taken, no round-robin turn (a plan's refresh).
                                      caf::replies_to<lookup_atom, std::string>::with<route_plan>,
                                      // A provider actor was (re)started: route to the new handle.
                                      caf::reacts_to<provider_atom, std::string, provider_actor>,
                                      // The provider is down for good (restart limit reached).
                                      caf::reacts_to<provider_atom, std::string>,
                                      // Circuit breaker news: how many more plans may include
                                      // the provider (0: open; route_unlimited: closed).
                                      caf::reacts_to<health_atom, std::string, std::uint32_t>>;

inline constexpr std::uint32_t route_unlimited = 0xffffffffu;

}  // namespace streamgate

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(streamgate::route_plan)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(streamgate::upstream_target)
