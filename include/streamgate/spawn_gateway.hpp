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
};

// Spawns the gateway actor and its actor tree in `system`. Errors (caf::sec::invalid_argument,
// with a message that starts with the offending key's path): a configuration that does not
// parse or does not validate; a gateway that is already running in this process (its
// metrics and log are the process's: one at a time; a new one may start once the previous
// one has quit).
//
// The gateway runs until it is sent shutdown_atom (graceful) or an exit message; an actor
// system does not shut down while it runs.
caf::expected<gateway_actor> spawn_gateway(caf::actor_system& system, gateway_options options = {});

}  // namespace streamgate
