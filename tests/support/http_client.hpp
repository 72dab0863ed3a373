#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace streamgate::test {

struct http_reply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

struct sse_event {
  std::string id;
  std::string data;
  std::vector<std::string> comments;
};

// Connects socket `fd` to 127.0.0.1:`port`; false when nothing accepts there.
bool connect_loopback(int fd, std::uint16_t port);
// A connected TCP socket to 127.0.0.1:`port` that says nothing, or -1.
int open_loopback(std::uint16_t port);

// A deliberately small, blocking HTTP/1.1 client over a real loopback socket, for tests:
// every read is bounded by a receive timeout so no test can hang.
class http_client {
 public:
  // `receive_buffer` > 0 sets SO_RCVBUF: a small one makes a client that stops reading fill
  // up after a few KiB.
  explicit http_client(std::uint16_t port,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10),
                       int receive_buffer = 0);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // Sends a request and reads the whole response (Content-Length or chunked).
  http_reply request(const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::map<std::string, std::string>& headers = {});

  // Sends raw bytes as they are (for malformed requests).
  void send_raw(const std::string& bytes);

  // Sends a request and reads only the status line and headers of a streamed response.
  http_reply open_stream(const std::string& method, const std::string& target,
                         const std::string& body = {},
                         const std::map<std::string, std::string>& headers = {});
  // The next SSE event of an open stream; nullopt when the response (or connection) ended.
  std::optional<sse_event> next_event();

  // Reads a full response after send_raw; status 0 if the server closed without one.
  http_reply read_reply();

  // Everything the server sends until it closes the connection (an HTTP/1.0 response whose
  // body ends with the connection), unparsed; bounded by the receive timeout.
  std::string read_to_close();

  // True once the server has closed the connection.
  bool peer_closed();
  void close();

 private:
  bool fill();  // reads more bytes into buffer_; false on EOF/error
  bool read_headers(http_reply& out);
  std::optional<std::string> next_body_bytes();  // next decoded piece of a chunked body
  void send_request(const std::string& method, const std::string& target, const std::string& body,
                    const std::map<std::string, std::string>& headers);

  int fd_ = -1;
  std::string buffer_;
  bool chunked_ = false;
  std::size_t content_left_ = 0;
  bool body_done_ = false;
  std::string sse_buffer_;
};

}  // namespace streamgate::test
