#pragma once

#include <streamgate/stream_event.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace streamgate {

// A stream event as the JSON object that long-poll responses and WebSocket frames share:
// {"seq", "type": delta | usage | done | error | cancelled | heartbeat, ...}, with "id" (the
// client's stream id) on WebSocket. A delta carries what its provider sent beyond the text
// (docs/protocol.md): "choice", "delta", "finish_reason", "choice_extra", "chunk_extra".
// Deltas and usage are written as text, the rest through a JSON tree.
void append_event_json(std::string& out, const stream_event& ev, std::string_view id = {});

// Serialises without throwing on invalid UTF-8 from an upstream (replaced instead).
std::string dump_json(const nlohmann::json& j);

}  // namespace streamgate
