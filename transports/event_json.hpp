#pragma once

#include "actors/stream_event.hpp"

#include <nlohmann/json.hpp>

namespace streamgate {

// A stream event as the JSON object that long-poll responses and WebSocket frames share:
// {"seq", "type": delta | usage | done | error | cancelled | heartbeat, ...}.
nlohmann::json event_json(const stream_event& ev);

// Serialises without throwing on invalid UTF-8 from an upstream (replaced instead).
std::string dump_json(const nlohmann::json& j);

}  // namespace streamgate
