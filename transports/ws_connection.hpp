#pragma once

#include "transports/api_handler.hpp"
#include "transports/server_context.hpp"

#include <boost/beast/core/tcp_stream.hpp>

#include <memory>

namespace streamgate {

// Takes over an upgraded HTTP connection and runs the WebSocket protocol on it
// (docs/protocol.md): many streams per socket, cancel, resume, heartbeats.
void start_websocket(boost::beast::tcp_stream&& stream, http_request&& upgrade,
                     std::shared_ptr<server_context> ctx);

}  // namespace streamgate
