#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace streamgate {

struct http_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned threads = 1;                            // I/O threads running every connection
  std::size_t max_body_bytes = 1 << 20;            // 413 above
  std::size_t max_header_bytes = 16 * 1024;        // 431 above
  std::size_t max_connections = 20000;             // 503 above
  std::size_t max_pending_bytes = 1 << 20;         // per streaming client: slow consumer above
  std::chrono::milliseconds idle_timeout{60000};   // keep-alive connection with no request
  std::chrono::milliseconds sse_keepalive{15000};  // comment line on an idle SSE stream
  std::string web_root;                            // static files served at /; empty: none
  bool admin = false;  // /admin/* endpoints (provider view, chaos crash); off by default
};

}  // namespace streamgate
