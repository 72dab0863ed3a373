#pragma once

#include "access/key_digest.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace streamgate {

// What one gateway key may do; 0 (or an empty list) is unlimited.
struct key_limits {
  std::uint32_t rpm = 0;                 // sessions started per minute
  std::uint32_t max_streams = 0;         // sessions running at once (queued ones included)
  std::uint64_t tpm = 0;                 // tokens per minute: usage, estimated while streaming
  std::uint32_t max_connections = 0;     // client connections that carry this key at once
  std::uint32_t streams_per_socket = 0;  // WebSocket streams on one socket (below ws_max_streams)
  std::vector<std::string> models;       // the models it may use
};

struct gateway_key {
  std::string name;  // in metrics and logs: the key itself never is
  key_digest digest{};
  key_limits limits;
  bool admin = false;  // may use /admin/* and /metrics on the public listener
};

// Per client address, so that one client cannot take what every client shares.
struct client_limits {
  std::uint32_t max_connections = 256;  // open connections from one address
  std::uint32_t session_rpm = 600;      // sessions started per minute from one address
  // Loopback clients are the operator's own machine, or a reverse proxy on it that every
  // client comes through: limiting its address would limit everyone.
  bool exempt_loopback = true;
};

// Who may use the gateway, and from where (docs/security.md).
struct access_config {
  // No keys and not disabled: only loopback may be served (the server refuses to bind
  // anything else; app/config.cpp).
  bool disabled = false;
  std::vector<gateway_key> keys;
  // WebSocket Origin allow-list: empty, the page's own host only; "*", any.
  std::vector<std::string> ws_origins;
  // CORS for the HTTP API: empty, off; "*", any origin.
  std::vector<std::string> cors_origins;
  client_limits per_client;

  bool requires_key() const { return !disabled && !keys.empty(); }
};

}  // namespace streamgate
