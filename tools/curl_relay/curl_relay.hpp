#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace streamgate::relay {

struct relay_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  // Base URL of the upstream, e.g. http://127.0.0.1:9000; the client's request target is
  // appended to it.
  std::string upstream;
  // A client that stops reading is dropped once this much is queued for it.
  std::size_t max_pending_bytes = 4u << 20;
};

// The least any libcurl-based streaming gateway can cost, for `make bench`: one thread, one
// epoll set holding the clients and curl's sockets, `curl_multi_socket_action`, and every
// body piece libcurl hands over written to its client at once as an HTTP chunk. No parsing,
// no actors, no metrics, easy handles reused. It is the reference that separates what
// libcurl itself costs from what streamgate adds on top (bench/notes.md). Not a product
// component: requests are POSTs with a body of at most 1 MiB, one after another on a
// connection (HTTP/1.1 keep-alive) unless the client asks to close.
class curl_relay {
 public:
  explicit curl_relay(relay_options options);
  ~curl_relay();
  curl_relay(const curl_relay&) = delete;
  curl_relay& operator=(const curl_relay&) = delete;

  void start();  // binds and starts the relay thread; throws on a bad address
  std::uint16_t port() const;
  void stop();  // idempotent; closes every connection

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace streamgate::relay
