#pragma once

#include <streamgate/chat_request.hpp>
#include <streamgate/stream_event.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

// The WebSocket protocol's messages (docs/protocol.md, "WebSocket"): parsing a client's
// frame into a command, and rendering the server's frames. Pure functions, unit-tested
// without sockets.
namespace streamgate::ws {

struct command {
  enum class kind { start, cancel, resume, ping, invalid };
  kind what = kind::invalid;
  std::string id;           // the client's stream id (start, cancel, resume)
  chat_request request;     // start
  std::string session;      // resume
  std::uint64_t after = 0;  // resume: the last seq the client has
  nlohmann::json data;      // ping: echoed in the pong
  std::string error_code;   // invalid: why
  std::string error_message;
};

// Longest accepted client stream id.
inline constexpr std::size_t max_stream_id = 128;

command parse_command(std::string_view text);

std::string started(std::string_view id, std::string_view session, std::string_view model,
                    bool resumed, std::uint64_t after);
// A session event for stream `id`: delta, usage, done, error, cancelled (with its seq).
std::string event(std::string_view id, const stream_event& ev);
// The same, appended to `out`: a token costs no allocation once `out` has room.
void append_event(std::string& out, std::string_view id, const stream_event& ev);
// A refusal that is not a session event (no seq); `id` empty when no stream is concerned.
std::string error(std::string_view id, std::string_view code, std::string_view message);
std::string pong(const nlohmann::json& data);
std::string heartbeat(std::int64_t unix_ms);

}  // namespace streamgate::ws
