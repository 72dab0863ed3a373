#include "transports/ws/ws_frame.hpp"

#include <boost/beast/websocket/detail/hybi13.hpp>

#include <algorithm>

namespace streamgate::ws {

bool valid_client_key(std::string_view key) {
  // 16 bytes in base64: 22 symbols and "==".
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  });
}

std::string accept_key(std::string_view client_key) {
  namespace detail = boost::beast::websocket::detail;
  detail::sec_ws_accept_type accept;
  detail::make_sec_ws_accept(accept, client_key);
  return std::string(accept.data(), accept.size());
}

void append_frame(std::string& out, opcode op, std::string_view payload) {
  char head[10];
  std::size_t n = 2;
  head[0] = static_cast<char>(0x80 | static_cast<std::uint8_t>(op));
  auto size = static_cast<std::uint64_t>(payload.size());
  if (size < 126) {
    head[1] = static_cast<char>(size);
  } else if (size <= 0xFFFF) {
    head[1] = 126;
    head[2] = static_cast<char>(size >> 8);
    head[3] = static_cast<char>(size);
    n = 4;
  } else {
    head[1] = 127;
    for (int i = 0; i < 8; ++i) head[2 + i] = static_cast<char>(size >> (56 - 8 * i));
    n = 10;
  }
  out.append(head, n);
  out.append(payload);
}

void append_close(std::string& out, close_code code, std::string_view reason) {
  auto c = static_cast<std::uint16_t>(code);
  std::string payload{static_cast<char>(c >> 8), static_cast<char>(c & 0xFF)};
  payload.append(reason.substr(0, 123));
  append_frame(out, opcode::close, payload);
}

}  // namespace streamgate::ws
