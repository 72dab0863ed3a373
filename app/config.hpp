#pragma once

#include "supervision/gateway_config.hpp"
#include "telemetry/log.hpp"
#include "transports/server/http_options.hpp"

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace streamgate {

// The whole program's configuration: a JSON file (--config) overridden by flags.
struct app_config {
  http_options http;
  gateway_config gateway = gateway_config::with_mock_provider();
  log::level log_level = log::level::info;
  std::string log_file;
  std::chrono::milliseconds drain{5000};
  unsigned actor_threads = 2;
  // The operator's listener (/metrics, /admin/*, health): HOST:PORT, or "off". Empty: on
  // loopback at the public port + 1 (an ephemeral one when the public port is 0).
  std::string admin_listen;
};

// A configuration mistake; the message starts with the offending key's path.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Applies a JSON document to `cfg`. Unknown keys and wrong types throw config_error.
void apply_config_json(const std::string& text, app_config& cfg);

// Splits "HOST:PORT"; throws config_error naming `what` on a malformed value.
void parse_listen(const std::string& value, const std::string& what, http_options& out);

struct cli_result {
  bool help = false;
  app_config config;
};

// --config FILE, --listen HOST:PORT, --admin-listen HOST:PORT|off, --log-level LEVEL,
// --web-root DIR, --help. Refuses a configuration that would serve a non-loopback address
// without gateway keys, unless auth.disabled says so.
cli_result parse_command_line(const std::vector<std::string>& args);

// Throws config_error when the configuration would serve a non-loopback address without
// gateway keys (unless auth.disabled), or names an unusable admin_listen.
void check_exposure(const app_config& cfg);

// The admin listener's options, derived from the public ones; false when it is off.
bool admin_options(const app_config& cfg, http_options& out);

std::string usage_text();

}  // namespace streamgate
