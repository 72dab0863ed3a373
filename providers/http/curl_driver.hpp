#pragma once

#include "providers/http/provider_config.hpp"

#include <streamgate/stream_event.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace streamgate {

class curl_loop;

// Receives one transfer's stream events on the driver thread, in order. It must not block
// (the provider's appends deltas to the session's event_log, whose sinks only post, and
// sends the terminal event with caf::anon_send). Exactly one terminal event ends a transfer,
// unless the transfer was cancelled first: then nothing more is delivered.
using transfer_callback = std::function<void(stream_event)>;

using transfer_id = std::uint64_t;

// What an upstream_stream needs from the I/O layer. The curl driver is the one real
// implementation; the actor tests drive the stream's logic through a scripted one.
class transfer_runner {
 public:
  virtual ~transfer_runner() = default;
  // Starts a transfer; its events go to `on_event` (on another thread, in order).
  virtual transfer_id start(upstream_request request, transfer_callback on_event) = 0;
  // Ends the transfer and closes its connection; a no-op once the transfer has ended.
  virtual void cancel(transfer_id id) = 0;
};

// One libcurl multi loop (curl_multi_socket_action over an epoll set of its own) for the
// upstream transfers given to it. Start and cancel are posted to the thread that runs it, so
// any thread may call them without blocking on I/O. Response bytes are parsed into stream
// events there (upstream_response). Connections are reused across transfers; HTTP/2 is used
// where a TLS server offers it.
class curl_driver final : public transfer_runner {
 public:
  // With a thread of its own.
  curl_driver();
  // On `io`, run by someone else: the HTTP server's I/O threads, so an upstream chunk is
  // read and written to its client on one thread without waking another.
  explicit curl_driver(std::shared_ptr<boost::asio::io_context> io);
  // Transfers still running are dropped silently.
  ~curl_driver() override;
  curl_driver(const curl_driver&) = delete;
  curl_driver& operator=(const curl_driver&) = delete;

  transfer_id start(upstream_request request, transfer_callback on_event) override;

  // Removes the transfer, which closes its connection.
  void cancel(transfer_id id) override;

 private:
  std::atomic<transfer_id> next_id_{1};
  std::shared_ptr<curl_loop> loop_;
};

}  // namespace streamgate
