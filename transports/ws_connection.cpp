#include "transports/ws_connection.hpp"

namespace streamgate {

// Placeholder until the WebSocket transport lands: refuse by closing the socket.
void start_websocket(boost::beast::tcp_stream&& stream, http_request&&,
                     std::shared_ptr<server_context>) {
  boost::beast::error_code ec;
  stream.socket().close(ec);
}

}  // namespace streamgate
