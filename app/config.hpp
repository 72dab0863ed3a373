#pragma once

#include "supervision/gateway_config.hpp"
#include "telemetry/log.hpp"
#include "transports/http_options.hpp"

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

// --config FILE, --listen HOST:PORT, --log-level LEVEL, --web-root DIR, --help.
cli_result parse_command_line(const std::vector<std::string>& args);

std::string usage_text();

}  // namespace streamgate
