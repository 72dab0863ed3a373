#include "telemetry/stats.hpp"

namespace streamgate::stats {
namespace {

metrics::registry& reg() {
  return metrics::registry::global();
}

}  // namespace

session_stats& session() {
  static session_stats s{
      reg().add_counter("streamgate_session_requests_total",
                        "Sessions ended, by transport, model and outcome (ok, cancelled or the "
                        "error code)",
                        {"transport", "model", "outcome"}),
      reg().add_histogram("streamgate_session_ttft_seconds",
                          "Time to first token at the gateway: request accepted to first delta "
                          "handed to the client's transport",
                          {"transport", "model"}, metrics::latency_buckets()),
      reg().add_histogram("streamgate_session_duration_seconds",
                          "Whole stream: request accepted to terminal event",
                          {"transport", "model"}, metrics::duration_buckets()),
      reg().add_histogram("streamgate_session_chunk_gap_seconds",
                          "Gap between consecutive deltas handed to the client's transport",
                          {"transport", "model"}, metrics::latency_buckets()),
      reg().add_counter("streamgate_session_bytes_total", "Content bytes streamed to clients",
                        {"transport", "model"}),
      reg().add_gauge("streamgate_session_clients", "Clients attached to a session, by transport",
                      {"transport"}),
      reg().add_counter("streamgate_session_failovers_total",
                        "Upstream attempts retried on another provider before the first token",
                        {"model"}),
      reg().add_histogram("streamgate_session_cancel_latency_seconds",
                          "Cancel or client disconnect received by the session to its upstream "
                          "stream stopped",
                          {"provider"}, metrics::latency_buckets()),
      reg().add_counter("streamgate_session_log_evictions_total",
                        "Sessions sent away because the session logs reached "
                        "sessions.log_budget_bytes: ended (kept for resume, oldest first) or "
                        "running (the largest, ended with log_budget_exceeded)",
                        {"state"}),
  };
  return s;
}

limit_stats& limits() {
  static limit_stats s{
      reg().add_counter("streamgate_limits_rejected_total",
                        "Requests refused by a configured limit (max_connections, "
                        "max_sessions, quota)",
                        {"limit"}),
  };
  return s;
}

upstream_stats& upstream() {
  static upstream_stats s{
      reg().add_counter("streamgate_upstream_attempts_total",
                        "Upstream attempts by provider and outcome (ok, cancelled or the error "
                        "code)",
                        {"provider", "outcome"}),
      reg().add_histogram("streamgate_upstream_ttfb_seconds",
                          "Upstream request sent to its first response byte", {"provider"},
                          metrics::latency_buckets()),
      reg().add_histogram("streamgate_upstream_chunk_gap_seconds",
                          "Gap between consecutive chunks received from the upstream", {"provider"},
                          metrics::latency_buckets()),
      reg().add_histogram("streamgate_upstream_cancel_latency_seconds",
                          "Cancel command received to upstream transfer removed (socket closed)",
                          {"provider"}, metrics::latency_buckets()),
  };
  return s;
}

provider_stats& provider() {
  static provider_stats s{
      reg().add_counter("streamgate_provider_crashes_total", "Provider actors that failed",
                        {"provider"}),
      reg().add_counter("streamgate_provider_restarts_total",
                        "Provider actors restarted by their supervisor", {"provider"}),
      reg().add_counter("streamgate_breaker_transitions_total",
                        "Circuit breaker state changes, by the state entered", {"provider", "to"}),
      reg().add_gauge("streamgate_breaker_state",
                      "Circuit breaker state: 0 closed, 1 half-open, 2 open", {"provider"}),
  };
  return s;
}

supervision_stats& supervision() {
  static supervision_stats s{
      reg().add_counter("streamgate_actor_crashes_total",
                        "Router and quota pool actors that failed", {"actor"}),
      reg().add_counter("streamgate_actor_restarts_total",
                        "Router and quota pool actors restarted with their state rebuilt",
                        {"actor"}),
  };
  return s;
}

quota_stats& quota() {
  static quota_stats s{
      reg().add_gauge("streamgate_quota_leases_in_use", "Quota leases held", {"pool"}),
      reg().add_gauge("streamgate_quota_queue_length", "Sessions waiting for a lease", {"pool"}),
      reg().add_histogram("streamgate_quota_queue_wait_seconds",
                          "Time a session waited in the queue for its lease", {"pool"},
                          metrics::latency_buckets()),
      reg().add_counter("streamgate_quota_queue_timeouts_total",
                        "Sessions that gave up waiting for a lease", {"pool"}),
  };
  return s;
}

cluster_stats& cluster() {
  static cluster_stats s{
      reg().add_gauge("streamgate_cluster_peers", "Configured peers by state", {"state"}),
      reg().add_gauge("streamgate_cluster_degraded",
                      "1 while the quota pool's owner is out of reach", {"pool"}),
      reg().add_counter("streamgate_cluster_peer_events_total",
                        "Peers connecting, disconnecting and being refused", {"peer", "event"}),
  };
  return s;
}

client_stats& clients() {
  static client_stats s{
      reg().add_counter("streamgate_client_dropped_total",
                        "Clients the server cut on its own: slow_consumer (stopped reading), "
                        "ping_timeout (a WebSocket silent past the ping timeout) or "
                        "write_timeout (a write to it did not complete in time)",
                        {"transport", "reason"}),
  };
  return s;
}

http_stats& http() {
  static http_stats s{
      reg().add_counter("streamgate_http_accept_failures_total",
                        "Failed accepts of client connections (out of file descriptors or "
                        "kernel buffers); the listener backs off while they last",
                        {}),
  };
  return s;
}

access_stats& access() {
  static access_stats s{
      reg().add_counter("streamgate_key_sessions_total",
                        "Session starts by gateway key name: started, or the refusal's code",
                        {"key", "outcome"}),
      reg().add_gauge("streamgate_key_streams", "Sessions running, by gateway key name", {"key"}),
      reg().add_counter("streamgate_key_tokens_total",
                        "Tokens by gateway key name: usage, estimated while streaming", {"key"}),
      reg().add_gauge("streamgate_key_connections",
                      "Client connections that showed a gateway key, by key name", {"key"}),
      reg().add_counter("streamgate_auth_failures_total",
                        "Requests refused before any work: missing_key, invalid_key, origin",
                        {"reason"}),
  };
  return s;
}

void declare_all() {
  session();
  limits();
  upstream();
  provider();
  supervision();
  quota();
  clients();
  http();
  access();
}

}  // namespace streamgate::stats
