// RFC 6455 framing as the server speaks it: the frames it writes, and the parser that reads
// a client's bytes, fed whole, byte by byte, and as random garbage.

#include "transports/ws/ws_frame.hpp"
#include "tests/support/ws_wire.hpp"
#include "transports/ws/ws_frame_parser.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace streamgate::ws {
namespace {

std::string client_frame(opcode op, const std::string& payload, bool fin = true, bool masked = true,
                         std::uint8_t rsv = 0) {
  return test::client_frame(static_cast<std::uint8_t>(op), payload, fin, masked, rsv);
}

std::vector<client_message> parse_all(frame_parser& p, const std::string& bytes) {
  p.feed(bytes.data(), bytes.size());
  std::vector<client_message> out;
  while (auto m = p.next()) out.push_back(std::move(*m));
  return out;
}

std::optional<close_code> failure_of(const std::string& bytes, std::size_t max = 1 << 20) {
  frame_parser p{max};
  parse_all(p, bytes);
  if (!p.failure()) return std::nullopt;
  EXPECT_NE(std::string(p.failure()->reason), "");
  return p.failure()->code;
}

TEST(ws_frame, accept_key_is_the_rfc_example) {
  // RFC 6455 section 1.3.
  EXPECT_TRUE(valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25jZQ="));
  EXPECT_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25jZ%=="));
}

TEST(ws_frame, server_frames_use_the_shortest_length_and_no_mask) {
  for (std::size_t n : {0u, 1u, 125u, 126u, 65535u, 65536u, 70000u}) {
    std::string out;
    append_frame(out, opcode::text, std::string(n, 'x'));
    auto* b = reinterpret_cast<const std::uint8_t*>(out.data());
    EXPECT_EQ(b[0], 0x81) << n;  // FIN, text
    EXPECT_EQ(b[1] & 0x80, 0) << n;
    std::size_t head = n < 126 ? 2 : n <= 0xFFFF ? 4 : 10;
    EXPECT_EQ(out.size(), head + n) << n;
    std::uint64_t len = b[1];
    if (head == 4) len = (std::uint64_t{b[2]} << 8) | b[3];
    if (head == 10) {
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | b[i];
    }
    EXPECT_EQ(len, n);
  }
  std::string close;
  append_close(close, close_code::try_again_later, std::string(200, 'r'));
  EXPECT_EQ(close.size(), 2u + 125u);  // a control frame's payload is at most 125 bytes
  EXPECT_EQ(static_cast<std::uint8_t>(close[0]), 0x88);
  EXPECT_EQ((std::uint8_t(close[2]) << 8) | std::uint8_t(close[3]), 1013);
}

TEST(ws_frame, reads_messages_split_at_every_byte) {
  std::string text = "{\"type\":\"ping\",\"data\":\"h\xC3\xA9llo\"}";
  std::string big(70000, 'b');
  auto bytes = client_frame(opcode::text, text) + client_frame(opcode::binary, big) +
               client_frame(opcode::ping, "p");
  for (std::size_t step : {1u, 3u, 7u, 4096u, 1000000u}) {
    frame_parser p{1 << 20};
    std::vector<client_message> got;
    for (std::size_t i = 0; i < bytes.size(); i += step) {
      auto part = bytes.substr(i, step);
      for (auto& m : parse_all(p, part)) got.push_back(std::move(m));
    }
    ASSERT_FALSE(p.failure()) << step;
    ASSERT_EQ(got.size(), 3u) << step;
    EXPECT_EQ(got[0].what, opcode::text);
    EXPECT_EQ(got[0].payload, text);
    EXPECT_EQ(got[1].what, opcode::binary);
    EXPECT_EQ(got[1].payload, big);
    EXPECT_EQ(got[2].what, opcode::ping);
    EXPECT_EQ(got[2].payload, "p");
  }
}

TEST(ws_frame, joins_fragments_with_a_control_frame_between_them) {
  // "é" split across the two fragments: UTF-8 is checked on the whole message.
  auto bytes = client_frame(opcode::text, "caf\xC3", false) + client_frame(opcode::pong, "x") +
               client_frame(opcode::continuation, "\xA9!");
  frame_parser p{1 << 20};
  auto got = parse_all(p, bytes);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].what, opcode::pong);
  EXPECT_EQ(got[1].what, opcode::text);
  EXPECT_EQ(got[1].payload, "caf\xC3\xA9!");
}

TEST(ws_frame, close_frames_carry_code_and_reason) {
  frame_parser p{1024};
  auto got = parse_all(p, client_frame(opcode::close, std::string("\x03\xE8", 2) + "bye") +
                              client_frame(opcode::close, ""));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].code, 1000);
  EXPECT_EQ(got[0].payload, "bye");
  EXPECT_EQ(got[1].code, 1005);  // none given
}

struct violation_case {
  const char* name;
  std::string bytes;
  close_code expected;
};

void PrintTo(const violation_case& c, std::ostream* os) {
  *os << c.name;
}

class ws_frame_violation : public ::testing::TestWithParam<violation_case> {};

TEST_P(ws_frame_violation, is_refused_with_its_close_code_and_stays_refused) {
  auto& c = GetParam();
  frame_parser p{4096};
  EXPECT_TRUE(parse_all(p, c.bytes).empty());
  ASSERT_TRUE(p.failure());
  EXPECT_EQ(p.failure()->code, c.expected);
  // Nothing after a violation is read, not even a valid frame.
  EXPECT_TRUE(parse_all(p, client_frame(opcode::text, "ok")).empty());
}

INSTANTIATE_TEST_SUITE_P(
    cases, ws_frame_violation,
    ::testing::Values(
        violation_case{"unmasked", client_frame(opcode::text, "x", true, false),
                       close_code::protocol_error},
        violation_case{"reserved_bits", client_frame(opcode::text, "x", true, true, 0x40),
                       close_code::protocol_error},
        violation_case{"unknown_opcode", client_frame(static_cast<opcode>(3), "x"),
                       close_code::protocol_error},
        violation_case{"fragmented_ping", client_frame(opcode::ping, "x", false),
                       close_code::protocol_error},
        violation_case{"long_ping", client_frame(opcode::ping, std::string(126, 'x')),
                       close_code::protocol_error},
        violation_case{"continuation_first", client_frame(opcode::continuation, "x"),
                       close_code::protocol_error},
        violation_case{"text_inside_a_fragmented_message",
                       client_frame(opcode::text, "a", false) + client_frame(opcode::text, "b"),
                       close_code::protocol_error},
        violation_case{"one_byte_close", client_frame(opcode::close, "x"),
                       close_code::protocol_error},
        violation_case{"reserved_close_code", client_frame(opcode::close, "\x03\xED"),
                       close_code::protocol_error},
        violation_case{"invalid_utf8_text", client_frame(opcode::text, "\xC3\x28"),
                       close_code::bad_payload},
        violation_case{"invalid_utf8_close_reason",
                       client_frame(opcode::close, std::string("\x03\xE8\xFF", 3)),
                       close_code::bad_payload},
        violation_case{"oversized_frame", client_frame(opcode::text, std::string(5000, 'x')),
                       close_code::too_big},
        violation_case{"oversized_by_fragments",
                       client_frame(opcode::text, std::string(3000, 'x'), false) +
                           client_frame(opcode::continuation, std::string(3000, 'x')),
                       close_code::too_big},
        // A 64-bit length with its top bit set (not allowed) is simply too big.
        violation_case{"huge_length", std::string("\x81\xFF\x80\0\0\0\0\0\0\0", 10) + "mask",
                       close_code::too_big}),
    [](const auto& info) { return std::string{info.param.name}; });

TEST(ws_frame, an_oversized_frame_is_refused_from_its_header_alone) {
  // Only the header of a 1 GiB frame: refused before any of its payload is buffered.
  auto head = std::string("\x82\xFF\0\0\0\0\x40\0\0\0", 10) + "mask";
  EXPECT_EQ(failure_of(head, 1 << 20), close_code::too_big);
  EXPECT_EQ(failure_of(head.substr(0, 10), 1 << 20), close_code::too_big);  // before the mask
}

TEST(ws_frame, random_bytes_never_crash_and_end_in_messages_or_a_violation) {
  std::mt19937 rng{20261202};
  int failures = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes(rng() % 300, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    // Half the rounds start with a valid frame, so deeper parser states are reached too.
    if (round % 2) bytes = client_frame(opcode::text, "hi", rng() % 2) + bytes;
    frame_parser p{256};
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      auto n = 1 + rng() % 40;
      auto part = bytes.substr(pos, n);
      pos += part.size();
      for (auto& m : parse_all(p, part)) EXPECT_LE(m.payload.size(), 256u);
    }
    failures += p.failure().has_value();
  }
  EXPECT_GT(failures, 1000);  // garbage is mostly refused, not silently waited on
}

}  // namespace
}  // namespace streamgate::ws
