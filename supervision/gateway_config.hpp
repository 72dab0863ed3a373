#pragma once

#include "actors/session.hpp"
#include "providers/mock_provider.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace streamgate {

struct provider_entry {
  std::string name;
  std::string kind = "mock";        // "mock" or an HTTP adapter
  std::vector<std::string> models;  // client-facing model names it serves
  mock_config mock;
};

// Everything the engine needs; transports have their own options.
struct gateway_config {
  std::vector<provider_entry> providers;
  // model → provider names in failover order; empty means "every provider serving it,
  // in configuration order".
  std::map<std::string, std::vector<std::string>> routes;
  session_options sessions;
  std::size_t max_sessions = 20000;

  // The configuration `make run` uses: the mock provider serving model "mock".
  static gateway_config with_mock_provider();
};

}  // namespace streamgate
