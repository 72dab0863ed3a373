// The WebSocket transport at the byte level, against the real server on a loopback port:
// what a hand-written client sends and reads, frame by frame. The protocol as clients use it
// (through Beast's client, and a browser's) is in ws_test and the browser test.

#include "tests/support/ws_wire.hpp"
#include "providers/mock_provider.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_server.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <random>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace streamgate::test {
namespace {

using json = nlohmann::json;

constexpr const char* client_key = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 section 1.3

std::string upgrade_request(const char* version = "13") {
  return std::string(
             "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
             "Upgrade: websocket\r\nSec-WebSocket-Version: ") +
         version + "\r\nSec-WebSocket-Key: " + client_key + "\r\n\r\n";
}

struct server_frame {
  std::uint8_t opcode = 0;
  std::string payload;
  unsigned close_code() const {
    return payload.size() >= 2 ? (std::uint8_t(payload[0]) << 8) | std::uint8_t(payload[1]) : 0;
  }
};

// A raw TCP client; every read is bounded by a receive timeout.
class wire {
 public:
  explicit wire(std::uint16_t port) : fd_(open_loopback(port)) {
    set_timeout(std::chrono::seconds(5));
  }
  void set_timeout(std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000),
               static_cast<suseconds_t>(t.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~wire() { ::close(fd_); }

  void send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // The HTTP response head, up to its blank line.
  std::string head() {
    while (in_.find("\r\n\r\n") == std::string::npos && fill()) {
    }
    auto end = in_.find("\r\n\r\n");
    if (end == std::string::npos) return {};
    auto h = in_.substr(0, end + 4);
    in_.erase(0, end + 4);
    return h;
  }
  // The next frame from the server, which must be unmasked and final.
  std::optional<server_frame> frame() {
    if (!need(2)) return std::nullopt;
    auto b0 = std::uint8_t(in_[0]), b1 = std::uint8_t(in_[1]);
    EXPECT_EQ(b0 & 0xF0, 0x80) << "FIN and no reserved bits";
    EXPECT_EQ(b1 & 0x80, 0) << "a server never masks";
    std::size_t head = 2;
    std::uint64_t len = b1 & 0x7F;
    if (len == 126) {
      if (!need(4)) return std::nullopt;
      len = (std::uint64_t{std::uint8_t(in_[2])} << 8) | std::uint8_t(in_[3]);
      head = 4;
    } else if (len == 127) {
      if (!need(10)) return std::nullopt;
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | std::uint8_t(in_[i]);
      head = 10;
    }
    if (!need(head + len)) return std::nullopt;
    server_frame f{static_cast<std::uint8_t>(b0 & 0x0F), in_.substr(head, len)};
    in_.erase(0, head + len);
    return f;
  }
  // The next text frame, skipping app-level heartbeats.
  json message() {
    while (auto f = frame()) {
      if (f->opcode != 1) continue;
      auto m = json::parse(f->payload);
      if (m["type"] != "heartbeat") return m;
    }
    return nullptr;
  }
  // True once the server has closed its side (a read returns 0).
  bool at_eof() {
    char c;
    return in_.empty() && ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  bool fill() {
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  bool need(std::size_t n) {
    while (in_.size() < n)
      if (!fill()) return false;
    return true;
  }

  int fd_;
  std::string in_;
};

class ws_wire : public ::testing::Test {
 protected:
  test_server server{gateway_config::with_mock_provider()};
};

TEST_F(ws_wire, a_first_frame_sent_with_the_handshake_is_answered_too) {
  wire w{server.port()};
  // One write: the upgrade request and a command right behind it.
  w.send(upgrade_request() + client_frame(0x1, R"({"type":"ping","data":7})"));
  auto head = w.head();
  EXPECT_EQ(head.rfind("HTTP/1.1 101 ", 0), 0u) << head;
  EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos)
      << head;
  auto m = w.message();
  EXPECT_EQ(m["type"], "pong");
  EXPECT_EQ(m["data"], 7);
}

TEST_F(ws_wire, a_close_sent_with_the_handshake_is_echoed_and_the_connection_ends) {
  wire w{server.port()};
  w.send(upgrade_request() + client_frame(0x8, std::string("\x03\xE8", 2)));
  EXPECT_EQ(w.head().rfind("HTTP/1.1 101 ", 0), 0u);
  auto f = w.frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 0x8);
  EXPECT_EQ(f->close_code(), 1000u);
  EXPECT_TRUE(w.at_eof());
  EXPECT_TRUE(eventually([&] { return server.server().open_connections() == 0; }));
}

TEST_F(ws_wire, tokens_arrive_as_text_frames_in_order) {
  wire w{server.port()};
  w.send(upgrade_request());
  ASSERT_EQ(w.head().rfind("HTTP/1.1 101 ", 0), 0u);
  w.send(client_frame(0x1,
                      json{{"type", "start"}, {"id", "a"}, {"request", mock_request(200)}}.dump()));
  std::string text;
  std::uint64_t last_seq = 0;
  for (auto m = w.message(); !m.is_null() && m["type"] != "done"; m = w.message()) {
    if (m["type"] != "delta") continue;
    EXPECT_GT(m["seq"].get<std::uint64_t>(), last_seq);
    last_seq = m["seq"];
    text += m["content"].get<std::string>();
  }
  EXPECT_EQ(text, mock_text(200));
}

TEST_F(ws_wire, a_protocol_ping_gets_a_pong_with_its_payload) {
  wire w{server.port()};
  w.send(upgrade_request());
  ASSERT_FALSE(w.head().empty());
  w.send(client_frame(0x9, "are you there"));
  auto f = w.frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 0xA);
  EXPECT_EQ(f->payload, "are you there");
}

TEST_F(ws_wire, a_client_close_is_echoed_and_the_connection_ends) {
  wire w{server.port()};
  w.send(upgrade_request());
  ASSERT_FALSE(w.head().empty());
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 1; }));
  w.send(client_frame(0x8, std::string("\x0F\xA0", 2) + "bye"));  // 4000
  auto f = w.frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 0x8);
  EXPECT_EQ(f->close_code(), 4000u);
  EXPECT_TRUE(w.at_eof());
  EXPECT_TRUE(eventually([&] { return server.server().open_connections() == 0; }));
}

struct violation_case {
  const char* name;
  std::string frame;
  unsigned close_code;
};
void PrintTo(const violation_case& c, std::ostream* os) {
  *os << c.name;
}

class ws_wire_violation : public ws_wire, public ::testing::WithParamInterface<violation_case> {};

// A client that breaks the protocol gets the close code that names what it broke, then the
// server closes the connection; everybody else goes on.
TEST_P(ws_wire_violation, is_closed_with_its_code_and_others_go_on) {
  wire other{server.port()};
  other.send(upgrade_request());
  ASSERT_FALSE(other.head().empty());

  {
    wire w{server.port()};
    w.send(upgrade_request());
    ASSERT_FALSE(w.head().empty());
    w.send(GetParam().frame);
    auto f = w.frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 0x8);
    EXPECT_EQ(f->close_code(), GetParam().close_code);
    EXPECT_TRUE(w.at_eof());  // nothing follows the close frame
  }
  // The server read on until the client closed (no reset of unread bytes), then let go.
  EXPECT_TRUE(eventually([&] { return server.server().open_connections() == 1; }));

  other.send(client_frame(0x1, R"({"type":"ping"})"));
  EXPECT_EQ(other.message()["type"], "pong");
}

INSTANTIATE_TEST_SUITE_P(
    cases, ws_wire_violation,
    ::testing::Values(
        violation_case{"unmasked", client_frame(0x1, "{}", true, false), 1002},
        violation_case{"reserved_bits", client_frame(0x1, "{}", true, true, 0x20), 1002},
        violation_case{"invalid_utf8", client_frame(0x1, "\"\xFF\""), 1007},
        violation_case{"oversized", client_frame(0x1, std::string(2 << 20, 'x')), 1009}),
    [](const auto& info) { return std::string{info.param.name}; });

// A client that breaks the protocol and then neither answers the close nor hangs up holds no
// connection for long: the server lets go after its close bound (here ws_ping_timeout).
TEST(ws_wire_close_bound, a_client_that_never_answers_the_close_is_let_go) {
  auto o = test_server::default_options();
  o.ws_ping_timeout = std::chrono::milliseconds(300);
  test_server server{gateway_config::with_mock_provider(), o};
  wire w{server.port()};
  w.send(upgrade_request());
  ASSERT_FALSE(w.head().empty());
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 1; }));
  w.send(client_frame(0x1, "{}", true, false));  // unmasked: close 1002
  auto f = w.frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->close_code(), 1002u);
  // `w` stays open and silent; well before the default bound of 5 s, the server lets go.
  EXPECT_TRUE(
      eventually([&] { return server.server().open_connections() == 0; }, std::chrono::seconds(2)));
}

// Garbage after the handshake: each connection is answered (an error frame, or a close that
// names the violation) or left waiting for more bytes, and none of it harms the server.
TEST_F(ws_wire, random_bytes_never_crash_or_leak_a_connection) {
  std::mt19937 rng{20261202};
  int closed_with_a_code = 0;
  for (int round = 0; round < 60; ++round) {
    wire w{server.port()};
    w.send(upgrade_request());
    ASSERT_FALSE(w.head().empty());
    std::string junk(1 + rng() % 200, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (round % 3 == 0) junk[0] = '\x81';  // a final text frame...
    if (round % 3 == 0) junk[1] = static_cast<char>(0x80 | (junk.size() - 6) % 126);  // masked
    w.send(junk);
    if (round % 2 == 0) continue;  // hang up without waiting
    // A close, if one comes, carries one of the codes of a violation.
    w.set_timeout(std::chrono::milliseconds(200));
    while (auto f = w.frame()) {
      if (f->opcode != 0x8) continue;
      auto code = f->close_code();
      EXPECT_TRUE(code == 1002 || code == 1007 || code == 1009) << code;
      ++closed_with_a_code;
      break;
    }
  }
  EXPECT_GT(closed_with_a_code, 10);
  EXPECT_TRUE(eventually([&] { return server.server().open_connections() == 0; }));
  wire after{server.port()};
  after.send(upgrade_request() + client_frame(0x1, R"({"type":"ping"})"));
  ASSERT_FALSE(after.head().empty());
  EXPECT_EQ(after.message()["type"], "pong");
}

TEST_F(ws_wire, a_handshake_of_another_version_gets_400_naming_version_13) {
  wire w{server.port()};
  w.send(upgrade_request("8"));
  auto head = w.head();
  EXPECT_EQ(head.rfind("HTTP/1.1 400 ", 0), 0u) << head;
  EXPECT_NE(head.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << head;
}

}  // namespace
}  // namespace streamgate::test
