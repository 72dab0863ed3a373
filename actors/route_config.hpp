#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace streamgate {

// How a model's candidate providers are ordered for each request; every strategy skips
// providers that are down or whose circuit breaker is open, and the rest follow as failover.
//  priority:     the configured order.
//  weighted:     smooth weighted round-robin picks the first candidate; the rest by priority.
//  least_loaded: the provider whose quota pool has the largest free share first.
enum class route_strategy : std::uint8_t { priority, weighted, least_loaded };

const char* to_string(route_strategy s);
bool parse_route_strategy(const std::string& text, route_strategy& out);

struct route_target {
  std::string provider;
  std::uint32_t weight = 1;
};

struct route_config {
  route_strategy strategy = route_strategy::priority;
  std::vector<route_target> targets;
};

}  // namespace streamgate
