#pragma once

#include "actors/quota_options.hpp"
#include "actors/route_config.hpp"
#include "actors/session.hpp"
#include "cluster/cluster_options.hpp"
#include "providers/http/provider_config.hpp"
#include "providers/mock_provider.hpp"
#include "supervision/circuit_breaker.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace streamgate {

struct provider_entry {
  std::string name;
  // "mock", or an HTTP provider preset: openai, nvidia, zhipu, hunyuan, zhipu_legacy, custom.
  std::string kind = "mock";
  std::vector<std::string> models;  // client-facing model names it serves
  mock_config mock;
  // The quota pool it draws leases from (a key of gateway_config::pools); empty: unlimited.
  // Several providers naming one pool share its limits (one API key, several endpoints).
  std::string pool;
  http_provider_config http;  // every kind but mock
};

// One-for-one restarts, each actor at most `max_restarts` within `window`. A provider waits
// `backoff_initial` doubled per recent crash up to `backoff_max`; past its budget it is marked
// down and the router routes around it. The router and quota pools restart at once (they
// hold no connection a backoff would spare); past their budget the engine stops, and the
// process exits non-zero. A restarted pool keeps its predecessor's leases reserved for
// `reclaim_window`, for their holders to reclaim.
struct restart_options {
  std::uint32_t max_restarts = 5;
  std::chrono::milliseconds window{60000};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{10000};
  std::chrono::milliseconds reclaim_window{5000};
};

// Everything the engine needs; transports have their own options.
struct gateway_config {
  std::vector<provider_entry> providers;
  // model → strategy and candidate providers; a model without a route is served by every
  // provider listing it, in configuration order (priority with failover).
  std::map<std::string, route_config> routes;
  std::map<std::string, quota_options> pools;  // quota pool name → limits
  breaker_options breaker;                     // one circuit breaker per provider
  session_options sessions;
  std::size_t max_sessions = 20000;
  // Memory all session logs may hold together, running and kept for resume; past it sessions
  // are evicted as actors/log_budget.hpp says (sessions.log_budget_bytes).
  std::uint64_t log_budget_bytes = std::uint64_t{256} << 20;
  restart_options restarts;
  // Where the curl drivers run: one on each of the HTTP server's I/O loops (http_server's
  // `io`), a transfer on the loop of the client it streams to, so that an upstream chunk is
  // read and written to its client on one thread; empty: threads of their own.
  std::vector<std::shared_ptr<boost::asio::io_context>> upstream_loops;
  // Without upstream_loops: how many curl drivers, each on a thread of its own. A driver's
  // thread also writes its tokens (SSE and WebSocket) to their clients, so one thread caps the
  // tokens per second.
  std::size_t upstream_threads = 1;
  // Cluster mode: quota pools shared with other nodes (docs/cluster.md). The actor system
  // must have been configured with configure_cluster().
  cluster_options cluster;

  // The configuration `make run` uses: the mock provider serving model "mock".
  static gateway_config with_mock_provider();
};

}  // namespace streamgate
