#pragma once

#include "transports/ws/ws_frame.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace streamgate::ws {

// What a client said: a whole message (its fragments joined), or a control frame.
struct client_message {
  opcode what = opcode::text;  // text, binary, ping, pong or close
  std::string payload;         // unmasked; for close, the reason only
  std::uint16_t code = 0;      // close: the peer's code (1005 when it gave none)
};

// Reads a client's byte stream into messages (RFC 6455 section 5), enforcing what a server
// must: masked frames, no reserved bits or opcodes (no extension is negotiated), control
// frames short and unfragmented, fragments in order, valid UTF-8 in text and close reasons,
// and a bound on a message's size. The first violation stops it for good: failure() says
// which close code to answer with, and why.
//
// Pure and incremental: bytes may arrive split anywhere. Memory is bounded by the message
// limit plus one frame header.
class frame_parser {
 public:
  explicit frame_parser(std::size_t max_message) : max_message_(max_message) {}

  void feed(const char* data, std::size_t size);
  // The next complete message, if the bytes fed so far hold one.
  std::optional<client_message> next();

  struct violation {
    close_code code;
    const char* reason;
  };
  const std::optional<violation>& failure() const { return failure_; }

 private:
  std::nullopt_t fail(close_code code, const char* reason);

  std::size_t max_message_;
  std::string in_;       // bytes fed and not yet parsed
  std::size_t pos_ = 0;  // of the first unparsed byte in in_
  // A fragmented data message under way.
  std::optional<opcode> partial_;
  std::string message_;
  std::optional<violation> failure_;
};

}  // namespace streamgate::ws
