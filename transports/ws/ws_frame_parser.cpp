#include "transports/ws/ws_frame_parser.hpp"

#include <boost/beast/websocket/detail/utf8_checker.hpp>

namespace streamgate::ws {
namespace {

bool valid_utf8(const std::string& s) {
  boost::beast::websocket::detail::utf8_checker check;
  return check.write(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()) && check.finish();
}

// Close codes a peer may send (RFC 6455 section 7.4): the defined ones that may appear on
// the wire, and the ranges for libraries and applications.
bool valid_close_code(std::uint16_t c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

}  // namespace

void frame_parser::feed(const char* data, std::size_t size) {
  if (failure_) return;
  in_.erase(0, pos_);  // usually everything: a read ends on a frame's end
  pos_ = 0;
  in_.append(data, size);
}

std::nullopt_t frame_parser::fail(close_code code, const char* reason) {
  failure_ = violation{code, reason};
  in_ = {};
  message_ = {};
  pos_ = 0;
  return std::nullopt;
}

std::optional<client_message> frame_parser::next() {
  while (!failure_) {
    auto avail = in_.size() - pos_;
    if (avail < 2) return std::nullopt;
    auto* p = reinterpret_cast<const std::uint8_t*>(in_.data() + pos_);
    bool fin = p[0] & 0x80;
    auto op = static_cast<opcode>(p[0] & 0x0F);
    if (p[0] & 0x70) return fail(close_code::protocol_error, "reserved bits set");
    bool control = p[0] & 0x08;
    switch (op) {
      case opcode::continuation:
      case opcode::text:
      case opcode::binary:
      case opcode::close:
      case opcode::ping:
      case opcode::pong:
        break;
      default:
        return fail(close_code::protocol_error, "unknown opcode");
    }
    if (!(p[1] & 0x80)) return fail(close_code::protocol_error, "unmasked frame");
    std::uint64_t len = p[1] & 0x7F;
    std::size_t head = 2;
    if (len == 126) {
      head = 4;
      if (avail < head) return std::nullopt;
      len = (std::uint64_t{p[2]} << 8) | p[3];
    } else if (len == 127) {
      head = 10;
      if (avail < head) return std::nullopt;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    }
    if (control && (!fin || len > 125))
      return fail(close_code::protocol_error, "fragmented or long control frame");
    if (!control) {
      if ((op == opcode::continuation) != partial_.has_value())
        return fail(close_code::protocol_error, "fragments out of order");
      // Checked before the payload arrives: an oversized frame is never buffered.
      if (len > max_message_ - message_.size()) return fail(close_code::too_big, "message too big");
    }
    head += 4;
    if (avail < head || avail - head < len) return std::nullopt;
    const std::uint8_t* mask = p + head - 4;
    const char* payload = in_.data() + pos_ + head;
    auto n = static_cast<std::size_t>(len);
    pos_ += head + n;

    std::string* into = &message_;
    std::string control_payload;
    if (control) into = &control_payload;
    auto start = into->size();
    into->append(payload, n);
    for (std::size_t i = 0; i < n; ++i) (*into)[start + i] ^= static_cast<char>(mask[i & 3]);

    if (control) {
      client_message m{op, std::move(control_payload), 0};
      if (op == opcode::close) {
        if (m.payload.size() == 1) return fail(close_code::protocol_error, "bad close frame");
        m.code = 1005;  // no status received
        if (m.payload.size() >= 2) {
          m.code = static_cast<std::uint16_t>((std::uint8_t(m.payload[0]) << 8) |
                                              std::uint8_t(m.payload[1]));
          m.payload.erase(0, 2);
          if (!valid_close_code(m.code)) return fail(close_code::protocol_error, "bad close code");
          if (!valid_utf8(m.payload))
            return fail(close_code::bad_payload, "close reason is not UTF-8");
        }
      }
      return m;
    }
    if (op != opcode::continuation) partial_ = op;
    if (!fin) continue;
    client_message m{*partial_, std::move(message_), 0};
    partial_.reset();
    message_.clear();
    if (m.what == opcode::text && !valid_utf8(m.payload))
      return fail(close_code::bad_payload, "text is not UTF-8");
    return m;
  }
  return std::nullopt;
}

}  // namespace streamgate::ws
