#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// RFC 6455 as a server speaks it: the handshake's accept key and the frames it writes.
// The gateway frames WebSocket messages itself (not through Beast's websocket::stream) so
// that a token can be framed and sent from the thread that delivers it, through the same
// byte queue as every pong and close frame (docs/architecture.md, "WebSocket framing is ours").
namespace streamgate::ws {

enum class opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Close codes this server sends (RFC 6455 section 7.4.1).
enum class close_code : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  bad_payload = 1007,
  too_big = 1009,
  try_again_later = 1013,
  // Application codes (docs/protocol.md): no or a wrong gateway key; the key's connections
  // or the client address's are used up.
  invalid_api_key = 4401,
  connection_limit = 4429,
};

// Whether `key` is a client's Sec-WebSocket-Key: base64 of 16 bytes.
bool valid_client_key(std::string_view key);
// The Sec-WebSocket-Accept answering a valid client key.
std::string accept_key(std::string_view client_key);

// Appends one unmasked, final frame (servers never mask) carrying `payload`.
void append_frame(std::string& out, opcode op, std::string_view payload);
// A close frame with a code and a reason (cut to fit a control frame's 125 bytes).
void append_close(std::string& out, close_code code, std::string_view reason);

}  // namespace streamgate::ws
