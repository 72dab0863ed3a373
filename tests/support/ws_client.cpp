#include "tests/support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <stdexcept>

namespace streamgate::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

struct ws_client::impl {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buffer;
  unsigned close_code = 0;
  bool open = true;
};

ws_client::ws_client(std::uint16_t port, std::chrono::milliseconds timeout, int receive_buffer,
                     const std::map<std::string, std::string>& headers)
    : impl_(std::make_unique<impl>()) {
  auto& sock = impl_->ws.next_layer();
  sock.open(tcp::v4());
  int fd = sock.native_handle();
  if (receive_buffer > 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sock.connect({net::ip::make_address("127.0.0.1"), port});
  impl_->ws.set_option(
      beast::websocket::stream_base::decorator([headers](beast::websocket::request_type& req) {
        for (auto& [k, v] : headers) req.set(k, v);
      }));
  impl_->ws.handshake("127.0.0.1:" + std::to_string(port), "/v1/ws");
  impl_->ws.text(true);
}

ws_client::~ws_client() = default;

void ws_client::send(const nlohmann::json& message) {
  send_text(message.dump());
}

void ws_client::send_text(const std::string& text) {
  beast::error_code ec;
  impl_->ws.text(true);
  impl_->ws.write(net::buffer(text), ec);
}

void ws_client::send_binary(const std::string& bytes) {
  beast::error_code ec;
  impl_->ws.binary(true);
  impl_->ws.write(net::buffer(bytes), ec);
  impl_->ws.text(true);
}

std::optional<nlohmann::json> ws_client::next(bool with_heartbeats) {
  while (impl_->open) {
    beast::error_code ec;
    impl_->buffer.consume(impl_->buffer.size());
    impl_->ws.read(impl_->buffer, ec);
    if (ec) {
      // The close frame may have arrived even if answering it failed (the server had gone).
      impl_->close_code = impl_->ws.reason().code;
      impl_->open = false;
      return std::nullopt;
    }
    auto j = nlohmann::json::parse(beast::buffers_to_string(impl_->buffer.data()), nullptr, false);
    if (j.is_discarded()) throw std::runtime_error("the server sent a frame that is not JSON");
    if (!with_heartbeats && j.value("type", "") == "heartbeat") continue;
    return j;
  }
  return std::nullopt;
}

unsigned ws_client::close_code() const {
  return impl_->close_code;
}

void ws_client::drop() {
  beast::error_code ec;
  impl_->ws.next_layer().close(ec);
  impl_->open = false;
}

nlohmann::json mock_request(unsigned tokens, unsigned interval_ms, unsigned first_token_ms) {
  return {{"model", "mock"},
          {"messages", {{{"role", "user"}, {"content", "Hello there"}}}},
          {"mock",
           {{"tokens", tokens}, {"interval_ms", interval_ms}, {"first_token_ms", first_token_ms}}}};
}

}  // namespace streamgate::test
