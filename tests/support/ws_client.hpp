#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace streamgate::test {

// A blocking WebSocket client over a real loopback socket, for tests. Every read is bounded
// by a receive timeout so no test can hang. Protocol pings are answered only while next()
// reads, so a client that never calls next() is a peer that misses pings.
class ws_client {
 public:
  // `receive_buffer` > 0 shrinks the socket's receive buffer (slow-consumer tests).
  // `headers` go into the upgrade request (a key, an Origin, a subprotocol).
  explicit ws_client(std::uint16_t port,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10),
                     int receive_buffer = 0,
                     const std::map<std::string, std::string>& headers = {});
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  void send(const nlohmann::json& message);
  void send_text(const std::string& text);
  void send_binary(const std::string& bytes);

  // The next message, skipping app-level heartbeats unless asked for; nullopt when the
  // connection closed, failed or the timeout passed.
  std::optional<nlohmann::json> next(bool with_heartbeats = false);

  // The close code the server sent (0 if none).
  unsigned close_code() const;
  // Cuts the TCP connection without a close frame: a network drop.
  void drop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A chat request object for the mock provider (the `request` of a start message).
nlohmann::json mock_request(unsigned tokens, unsigned interval_ms = 0, unsigned first_token_ms = 0);

}  // namespace streamgate::test
