#pragma once

#include "actors/admin_service.hpp"
#include "actors/session_service.hpp"
#include "transports/http_options.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace streamgate {

// The client-facing server: one listening socket for HTTP, SSE, long-poll and WebSocket,
// run by its own I/O threads. Never blocks an I/O thread; talks to the engine only through
// session_service.
class http_server {
 public:
  // `admin` serves /admin/* when options.admin is set. `io`: the io_context its threads run,
  // shared with the upstream curl driver (gateway_config::upstream_io) so that an upstream
  // chunk is read and written on one thread; null: one of its own.
  http_server(session_service& service, http_options options, admin_service* admin = nullptr,
              std::shared_ptr<boost::asio::io_context> io = nullptr);
  ~http_server();  // stops and joins

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds and starts the I/O threads; throws std::runtime_error if the address is unusable.
  void start();
  // The bound port (useful with port 0).
  std::uint16_t port() const;

  void set_metrics_text(std::function<std::string()> fn);

  // POST /admin/connections/drop here cuts `clients`' streaming connections: how the admin
  // listener acts on the public one. Before start().
  void drop_clients_of(http_server& clients);

  // Stops accepting; open connections go on until their streams end.
  void stop_accepting();
  std::int64_t open_connections() const;
  std::int64_t streaming_connections() const;
  // Clients the server dropped: not reading (slow consumer), silent past ws_ping_timeout, or
  // not taking a write within write_timeout.
  std::uint64_t slow_consumer_drops() const;
  std::uint64_t ws_ping_timeouts() const;
  std::uint64_t write_timeouts() const;
  // The most bytes one client has had queued and unread at any time (the budget is
  // max_pending_bytes, replays included).
  std::size_t most_unsent_bytes() const;
  // Closes everything and joins the I/O threads.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace streamgate
