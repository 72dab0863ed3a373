#pragma once

#include "telemetry/metrics.hpp"

// Every stat the gateway exports, declared in one list per area (stats.cpp), so the names
// are consistent (`streamgate_<area>_<what>_<unit>`), greppable, and documented together in
// docs/operations.md. Labels stay low-cardinality: transport, model, provider, pool, outcome
// code, limit name — never a session id.
//
// Each accessor declares its area's families in the global registry on first use; code on a
// hot path fetches a labelled child once and keeps the reference.
namespace streamgate::stats {

// Client sessions, as the client sees them at the gateway.
struct session_stats {
  metrics::counter_family& requests;          // {transport, model, outcome}
  metrics::histogram_family& ttft;            // {transport, model}: accepted → first delta out
  metrics::histogram_family& duration;        // {transport, model}: accepted → terminal event
  metrics::histogram_family& chunk_gap;       // {transport, model}: between deltas sent
  metrics::counter_family& bytes;             // {transport, model}: content bytes streamed
  metrics::gauge_family& clients;             // {transport}: attached clients
  metrics::counter_family& failovers;         // {model}
  metrics::histogram_family& cancel_latency;  // {provider}: cancel/disconnect → upstream gone
  metrics::counter_family& log_evictions;     // {state}: sessions evicted by the log budget
};
session_stats& session();

// Requests refused by a configured limit.
struct limit_stats {
  metrics::counter_family& rejected;  // {limit}
};
limit_stats& limits();

// Upstream requests (HTTP transfers and mock generators).
struct upstream_stats {
  metrics::counter_family& attempts;          // {provider, outcome}
  metrics::histogram_family& ttfb;            // {provider}: request sent → first byte
  metrics::histogram_family& chunk_gap;       // {provider}: between upstream chunks
  metrics::histogram_family& cancel_latency;  // {provider}: cancel → transfer removed
};
upstream_stats& upstream();

// Provider supervision and circuit breakers.
struct provider_stats {
  metrics::counter_family& crashes;              // {provider}
  metrics::counter_family& restarts;             // {provider}
  metrics::counter_family& breaker_transitions;  // {provider, to}
  metrics::gauge_family& breaker_state;          // {provider}: 0 closed, 1 half-open, 2 open
};
provider_stats& provider();

// The router and the quota pools under the engine's supervision ({actor}: router, pool:NAME);
// providers have their own above.
struct supervision_stats {
  metrics::counter_family& crashes;   // {actor}
  metrics::counter_family& restarts;  // {actor}
};
supervision_stats& supervision();

// Quota pools.
struct quota_stats {
  metrics::gauge_family& leases_in_use;     // {pool}
  metrics::gauge_family& queue_length;      // {pool}
  metrics::histogram_family& queue_wait;    // {pool}: queued → lease granted
  metrics::counter_family& queue_timeouts;  // {pool}
};
quota_stats& quota();

// Cluster mode (docs/cluster.md).
struct cluster_stats {
  metrics::gauge_family& peers;          // {state}: configured peers connected / unreachable
  metrics::gauge_family& degraded;       // {pool}: 1 while its owner is out of reach
  metrics::counter_family& peer_events;  // {peer, event}: up, down, refused
};
cluster_stats& cluster();

// Clients the server cut on its own, by transport (sse, http, poll, ws) and reason:
// slow_consumer (it stopped reading past http.max_pending_bytes) or ping_timeout (a
// WebSocket silent past ws_ping_timeout).
struct client_stats {
  metrics::counter_family& dropped;  // {transport, reason}
};
client_stats& clients();

// The client-facing listener.
struct http_stats {
  metrics::counter_family& accept_failures;  // accept() failed: out of descriptors or buffers
};
http_stats& http();

// Gateway keys (labelled by the key's configured name, never the key) and client addresses.
struct access_stats {
  metrics::counter_family& sessions;       // {key, outcome}: started, or the refusal's code
  metrics::gauge_family& streams;          // {key}: sessions running
  metrics::counter_family& tokens;         // {key}: usage, estimated while streaming
  metrics::gauge_family& connections;      // {key}: connections that showed the key
  metrics::counter_family& auth_failures;  // {reason}: missing_key, invalid_key, origin
};
access_stats& access();

// Declares every area at once, so a scrape lists each family (with its HELP and TYPE) even
// before anything has happened.
void declare_all();

}  // namespace streamgate::stats
