#include "actors/route_config.hpp"

namespace streamgate {

const char* to_string(route_strategy s) {
  switch (s) {
    case route_strategy::priority:
      return "priority";
    case route_strategy::weighted:
      return "weighted";
    case route_strategy::least_loaded:
      return "least_loaded";
  }
  return "?";
}

bool parse_route_strategy(const std::string& text, route_strategy& out) {
  for (auto s :
       {route_strategy::priority, route_strategy::weighted, route_strategy::least_loaded}) {
    if (text == to_string(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

}  // namespace streamgate
