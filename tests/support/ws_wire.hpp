#pragma once

#include <cstdint>
#include <string>

namespace streamgate::test {

// A client's WebSocket frame as bytes on the wire (RFC 6455 section 5.2), for tests that
// speak the protocol by hand: masked unless told otherwise, with reserved bits `rsv`.
inline std::string client_frame(std::uint8_t opcode, const std::string& payload, bool fin = true,
                                bool masked = true, std::uint8_t rsv = 0) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | rsv | opcode);
  auto n = static_cast<std::uint64_t>(payload.size());
  char m = masked ? char(0x80) : char(0);
  if (n < 126) {
    f += static_cast<char>(m | n);
  } else if (n <= 0xFFFF) {
    f += static_cast<char>(m | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  } else {
    f += static_cast<char>(m | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((n >> (8 * i)) & 0xFF);
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f += masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i];
  return f;
}

}  // namespace streamgate::test
