#pragma once

// Starting the engine inside an existing actor system.

#include <streamgate/gateway_actor.hpp>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <functional>
#include <string>
#include <string_view>

namespace streamgate {

struct gateway_options {
  // The engine's configuration: the JSON document the server's --config reads
  // (docs/configuration.md): providers, routes, pools, sessions, breaker, restarts, log. The
  // server's own keys (listen, http, ...) are checked and otherwise ignored, so one file can
  // serve both. Empty: the built-in mock provider serving model "mock".
  std::string config_json;
  // Where the engine's log lines go: each is one JSON object, without a newline. Unset: the
  // configuration's log.file, or stderr. {"log": {"level": "off"}} silences the engine.
  std::function<void(std::string_view line)> log_line;
  // Also serve clients as the server program does: the HTTP API (OpenAI-compatible SSE),
  // long-poll, WebSocket and the web page, at the configuration's `listen` address
  // (127.0.0.1:8080 by default; port 0 picks a free one, which gateway_status::http_port
  // tells) with its `http` options, on I/O threads of the gateway's own.
  bool serve_http = false;
};

// Spawns the gateway actor and its actor tree in `system`, and returns once the engine is up
// (and, with serve_http, listening): a few milliseconds. Errors are caf::sec::invalid_argument
// with a message that names the cause: a configuration that does not parse or validate (with
// the offending key's path), an address that cannot be bound, or a gateway already running
// in this process (its metrics and log are the process's: one at a time; a new one may
// start once the previous one has quit).
//
// The gateway runs until it is sent shutdown_atom (graceful) or an exit message; an actor
// system does not shut down while it runs.
caf::expected<gateway_actor> spawn_gateway(caf::actor_system& system, gateway_options options = {});

}  // namespace streamgate
