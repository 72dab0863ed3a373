#include <streamgate/spawn_gateway.hpp>

#include "app/config.hpp"
#include "embedding/gateway_actor_impl.hpp"
#include "telemetry/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>

#include <atomic>
#include <exception>

namespace streamgate {

namespace {

// Metrics and the log are the process's: one gateway at a time.
std::atomic<bool> g_gateway_running{false};

}  // namespace

caf::expected<gateway_actor> spawn_gateway(caf::actor_system& system, gateway_options options) {
  app_config cfg;
  try {
    if (!options.config_json.empty()) apply_config_json(options.config_json, cfg);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::invalid_argument,
                           std::string{"invalid gateway configuration: "} + e.what());
  }
  if (g_gateway_running.exchange(true))
    return caf::make_error(caf::sec::invalid_argument,
                           "a streamgate gateway is already running in this process");
  try {
    if (options.log_line)
      log::route_to(cfg.log_level, std::move(options.log_line));
    else
      log::init(cfg.log_level, cfg.log_file);
  } catch (const std::exception& e) {
    g_gateway_running = false;
    return caf::make_error(caf::sec::invalid_argument,
                           std::string{"log.file: cannot be opened: "} + e.what());
  }
  auto impl = system.spawn<caf::detached>(gateway_actor_behavior, cfg.gateway,
                                          std::function<void()>{[] { g_gateway_running = false; }});
  return caf::actor_cast<gateway_actor>(impl);
}

}  // namespace streamgate
