#pragma once

#include "actors/admin_service.hpp"
#include "actors/session_service.hpp"
#include "transports/server/http_options.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace streamgate {

// The client-facing server: one listening socket for HTTP, SSE, long-poll and WebSocket,
// run by its I/O loops: one io_context and one thread per loop, each accepted connection
// placed on one loop for its whole life (round-robin). Never blocks an I/O thread; talks to
// the engine only through session_service.
// `n` io_contexts, one per I/O loop (each is run by one thread: its concurrency hint says so).
std::vector<std::shared_ptr<boost::asio::io_context>> make_io_loops(unsigned n);

class http_server {
 public:
  using loops = std::vector<std::shared_ptr<boost::asio::io_context>>;
  // `admin` serves /admin/* when options.admin is set. `io`: the loops' io_contexts (see
  // make_io_loops), shared with the upstream curl drivers (gateway_config::upstream_loops) so
  // that an upstream chunk is read and written to its client on one thread; empty: as many
  // of its own as options.threads says.
  http_server(session_service& service, http_options options, admin_service* admin = nullptr,
              loops io = {});
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
