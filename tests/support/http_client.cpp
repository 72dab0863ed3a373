#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace streamgate::test {

http_client::http_client(std::uint16_t port, std::chrono::milliseconds timeout,
                         int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) throw std::runtime_error("socket() failed");
  if (receive_buffer > 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!connect_loopback(fd_, port)) {
    ::close(fd_);
    throw std::runtime_error("connect() failed");
  }
}

bool connect_loopback(int fd, std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

int open_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd >= 0 && !connect_loopback(fd, port)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

http_client::~http_client() {
  close();
}

void http_client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void http_client::send_raw(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (e.g. 413): the reply tells
    off += static_cast<std::size_t>(n);
  }
}

void http_client::send_request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool has_type = false;
  for (auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    has_type = has_type || k == "Content-Type";
  }
  if (!body.empty() && !has_type) req += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST")
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  send_raw(req);
}

bool http_client::fill() {
  char buf[16384];
  auto n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  buffer_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::string http_client::read_to_close() {
  while (fill()) {
  }
  std::string all;
  all.swap(buffer_);
  return all;
}

bool http_client::peer_closed() {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char c;
  return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

bool http_client::read_headers(http_reply& out) {
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return false;
  }
  auto head = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  auto line_end = head.find("\r\n");
  auto status_line = head.substr(0, line_end);
  out.status = static_cast<unsigned>(std::stoi(status_line.substr(status_line.find(' ') + 1, 3)));
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    auto line = head.substr(pos, next - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      auto name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      out.headers[name] = value;
    }
    pos = next + 2;
  }
  chunked_ = out.header("transfer-encoding") == "chunked";
  content_left_ =
      chunked_ ? 0
               : std::stoul(out.headers.count("content-length") ? out.headers["content-length"]
                                                                : std::string{"0"});
  body_done_ = false;
  return true;
}

std::optional<std::string> http_client::next_body_bytes() {
  if (body_done_) return std::nullopt;
  if (!chunked_) {
    if (content_left_ == 0) {
      body_done_ = true;
      return std::nullopt;
    }
    while (buffer_.empty()) {
      if (!fill()) {
        body_done_ = true;
        return std::nullopt;
      }
    }
    auto take = std::min(content_left_, buffer_.size());
    auto out = buffer_.substr(0, take);
    buffer_.erase(0, take);
    content_left_ -= take;
    return out;
  }
  std::size_t eol;
  while ((eol = buffer_.find("\r\n")) == std::string::npos) {
    if (!fill()) {
      body_done_ = true;
      return std::nullopt;
    }
  }
  auto size = std::stoul(buffer_.substr(0, eol), nullptr, 16);
  while (buffer_.size() < eol + 2 + size + 2) {
    if (!fill()) {
      body_done_ = true;
      return std::nullopt;
    }
  }
  auto data = buffer_.substr(eol + 2, size);
  buffer_.erase(0, eol + 2 + size + 2);
  if (size == 0) {
    body_done_ = true;
    return std::nullopt;
  }
  return data;
}

http_reply http_client::read_reply() {
  http_reply out;
  if (!read_headers(out)) return out;
  while (auto piece = next_body_bytes()) out.body += *piece;
  return out;
}

http_reply http_client::request(const std::string& method, const std::string& target,
                                const std::string& body,
                                const std::map<std::string, std::string>& headers) {
  send_request(method, target, body, headers);
  return read_reply();
}

http_reply http_client::open_stream(const std::string& method, const std::string& target,
                                    const std::string& body,
                                    const std::map<std::string, std::string>& headers) {
  send_request(method, target, body, headers);
  http_reply out;
  read_headers(out);
  sse_buffer_.clear();
  return out;
}

std::optional<sse_event> http_client::next_event() {
  for (;;) {
    auto end = sse_buffer_.find("\n\n");
    if (end != std::string::npos) {
      auto block = sse_buffer_.substr(0, end);
      sse_buffer_.erase(0, end + 2);
      sse_event ev;
      std::size_t pos = 0;
      while (pos <= block.size()) {
        auto nl = block.find('\n', pos);
        if (nl == std::string::npos) nl = block.size();
        auto line = block.substr(pos, nl - pos);
        if (line.rfind("id: ", 0) == 0)
          ev.id = line.substr(4);
        else if (line.rfind("data: ", 0) == 0)
          ev.data += line.substr(6);
        else if (line.rfind(":", 0) == 0)
          ev.comments.push_back(line.substr(1));
        pos = nl + 1;
      }
      return ev;
    }
    auto piece = next_body_bytes();
    if (!piece) return std::nullopt;
    sse_buffer_ += *piece;
  }
}

}  // namespace streamgate::test
