#pragma once

#include "access/access_config.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace streamgate {

struct http_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned threads = 1;                      // I/O threads running every connection
  std::size_t max_body_bytes = 1 << 20;      // 413 above
  std::size_t max_header_bytes = 16 * 1024;  // 431 above
  std::size_t max_connections = 20000;       // 503 above
  // The curl driver runs on these I/O threads' io_context instead of a thread of its own.
  // Read by the program's wiring (app/main.cpp), not by the server. Off by default: on two
  // cores it saves ~17 % CPU per stream at 100 streams but leaves one thread doing all
  // the I/O, which saturates near 1,000 (docs/benchmarks.md).
  bool upstream_on_io_threads = false;
  std::size_t max_pending_bytes = 1 << 20;        // per streaming client: slow consumer above
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive connection with no request
  // From a request's first byte (a new connection's opening) to the end of its headers: a
  // client that trickles its headers is dropped at this, well before the idle timeout.
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds sse_keepalive{15000};  // comment line on an idle SSE stream
  // A streaming client (SSE, WebSocket) that has not taken a write this long is dropped.
  std::chrono::milliseconds write_timeout{30000};
  std::string web_root;  // static files served at /; empty: none
  // WebSocket (/v1/ws).
  std::size_t ws_max_message_bytes = 1 << 20;        // bigger frames/messages: close 1009
  std::size_t ws_max_streams = 32;                   // per socket: too_many_streams above
  std::chrono::milliseconds ws_ping_timeout{30000};  // no frame (not even a pong) this long:
                                                     // dropped; a ping goes out at half of it
  std::chrono::milliseconds ws_heartbeat{15000};     // app-level heartbeat message interval
  bool admin = false;  // /admin/* endpoints (provider view, chaos crash); off by default
  // What this listener serves: the client API (/v1/*, the web page, health), the operator's
  // surface (/metrics, /admin/*, health: the admin_listen address), or both (one port, for
  // tests). On the api listener, /metrics and /admin/* answer only an admin key.
  enum class role { api, admin, both };
  role serves = role::api;
  access_config access;  // gateway keys, origins, CORS, per-client limits (docs/security.md)
};

}  // namespace streamgate
