// A WebSocket client's bytes after the handshake, in reads cut anywhere, through the frame
// parser (transports/ws/ws_frame_parser.cpp).
//
// Input: [message bound][seed x4][max piece] then the bytes; the bound is 16 << n bytes
// (n = 7: the production default, 1 MiB).
//
// Properties: the bytes fed whole and fed in pieces give the same messages and the same
// verdict; a data message is within the bound, a control payload within 125 bytes; text
// and close reasons are valid UTF-8 (Beast's checker, used by the parser, against ours);
// a close code is one a peer may send, or 1005.
#include "tests/fuzz/fuzz_support.hpp"
#include "transports/ws/ws_frame_parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using namespace streamgate;

struct parsed {
  std::vector<ws::client_message> messages;
  std::optional<ws::frame_parser::violation> failure;
};

parsed parse(const std::vector<std::string_view>& reads, std::size_t bound) {
  parsed out;
  ws::frame_parser parser{bound};
  for (auto r : reads) {
    parser.feed(r.data(), r.size());
    while (auto m = parser.next()) out.messages.push_back(std::move(*m));
    if (parser.failure()) break;
  }
  out.failure = parser.failure();
  return out;
}

bool same(const ws::client_message& a, const ws::client_message& b) {
  return a.what == b.what && a.payload == b.payload && a.code == b.code;
}

void check_message(const ws::client_message& m, std::size_t bound) {
  using ws::opcode;
  switch (m.what) {
    case opcode::text:
      SG_FUZZ_CHECK(fuzz::valid_utf8(m.payload));
      [[fallthrough]];
    case opcode::binary:
      SG_FUZZ_CHECK(m.payload.size() <= bound);
      break;
    case opcode::close:
      SG_FUZZ_CHECK(fuzz::valid_utf8(m.payload));
      SG_FUZZ_CHECK(m.code == 1005 || (m.code >= 1000 && m.code < 5000));
      SG_FUZZ_CHECK(m.payload.size() <= 123);
      break;
    case opcode::ping:
    case opcode::pong:
      SG_FUZZ_CHECK(m.payload.size() <= 125);
      break;
    case opcode::continuation:
      SG_FUZZ_CHECK(!"a continuation is never a message of its own");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in{data, size};
  auto shift = in.byte() % 8u;
  std::size_t bound = shift == 7 ? std::size_t{1} << 20 : std::size_t{16} << shift;
  auto seed = in.u32();
  auto max_piece = 1 + in.byte() % 64u;
  auto bytes = in.rest();

  auto whole = parse({bytes}, bound);
  auto pieces = parse(fuzz::split(bytes, seed, max_piece), bound);
  SG_FUZZ_CHECK(whole.messages.size() == pieces.messages.size());
  for (std::size_t i = 0; i < whole.messages.size(); ++i) {
    SG_FUZZ_CHECK(same(whole.messages[i], pieces.messages[i]));
    check_message(whole.messages[i], bound);
  }
  SG_FUZZ_CHECK(whole.failure.has_value() == pieces.failure.has_value());
  if (whole.failure) {
    SG_FUZZ_CHECK(whole.failure->code == pieces.failure->code);
    SG_FUZZ_CHECK(std::strcmp(whole.failure->reason, pieces.failure->reason) == 0);
  }
  return 0;
}
