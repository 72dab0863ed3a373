#include <streamgate/spawn_gateway.hpp>

#include "app/config.hpp"
#include "embedding/gateway_actor_impl.hpp"
#include "supervision/gateway.hpp"
#include "telemetry/log.hpp"
#include "transports/server/http_server.hpp"

#include <boost/asio/io_context.hpp>

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
    check_exposure(cfg);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::invalid_argument,
                           std::string{"invalid gateway configuration: "} + e.what());
  }
  if (g_gateway_running.exchange(true))
    return caf::make_error(caf::sec::invalid_argument,
                           "a streamgate gateway is already running in this process");
  gateway_parts parts;
  parts.on_destroyed = [] {
    // The application's log function may go away with the gateway: back to the default.
    log::init(log::level::info);
    g_gateway_running = false;
  };
  try {
    if (options.log_line)
      log::route_to(cfg.log_level, std::move(options.log_line));
    else
      log::init(cfg.log_level, cfg.log_file);
    http_server::loops io;
    if (options.serve_http) {
      io = make_io_loops(cfg.http.threads);
      if (cfg.http.upstream_on_io_threads) cfg.gateway.upstream_loops = io;
    }
    parts.engine = std::make_shared<gateway>(system, cfg.gateway);
    if (options.serve_http) {
      parts.server = std::make_shared<http_server>(*parts.engine, cfg.http, parts.engine.get(), io);
      parts.server->start();
      http_options admin_http;
      if (admin_options(cfg, admin_http)) {
        admin_http.threads = 1;
        parts.admin = std::make_shared<http_server>(*parts.engine, admin_http, parts.engine.get());
        parts.admin->drop_clients_of(*parts.server);
        parts.admin->start();
      }
    }
  } catch (const std::exception& e) {
    parts.admin.reset();
    parts.server.reset();
    parts.engine.reset();
    g_gateway_running = false;
    return caf::make_error(caf::sec::invalid_argument,
                           std::string{"the gateway did not start: "} + e.what());
  }
  auto impl = system.spawn<caf::detached>(gateway_actor_behavior, std::move(parts));
  return caf::actor_cast<gateway_actor>(impl);
}

}  // namespace streamgate
