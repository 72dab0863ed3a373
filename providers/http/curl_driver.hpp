#pragma once

#include "actors/stream_event.hpp"
#include "providers/http/provider_config.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace streamgate {

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

// The upstream I/O thread: one libcurl multi loop (curl_multi_socket_action on epoll, woken
// by an eventfd) for every upstream transfer of the process. Start and cancel are
// commands through a small queue, so any thread may call them without blocking on I/O.
// Response bytes are parsed into stream events on this thread (upstream_response).
// Connections are reused across transfers; HTTP/2 is used where a TLS server offers it.
class curl_driver final : public transfer_runner {
 public:
  curl_driver();
  ~curl_driver() override;  // stops the thread; transfers still running are dropped silently
  curl_driver(const curl_driver&) = delete;
  curl_driver& operator=(const curl_driver&) = delete;

  transfer_id start(upstream_request request, transfer_callback on_event) override;

  // Removes the transfer, which closes its connection.
  void cancel(transfer_id id) override;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace streamgate
