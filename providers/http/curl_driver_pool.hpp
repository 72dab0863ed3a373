#pragma once

#include "providers/http/curl_driver.hpp"

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

namespace streamgate {

// Several curl drivers, for machines where one thread cannot carry every stream: since tokens
// (SSE and WebSocket) are also written to their clients from the driver's thread, one driver is
// a ceiling on the whole gateway's tokens per second. A transfer stays on the driver that
// started it. Each driver keeps its own connection pool, so N drivers hold up to N idle
// connections per provider. A pool of one is the default: the same as one curl_driver, behind
// one more indirection per start.
class curl_driver_pool final : public transfer_runner {
 public:
  // Each driver a libcurl multi loop on a thread of its own; transfers go round-robin.
  explicit curl_driver_pool(std::size_t threads);
  // One driver on each of the HTTP server's loops (its io_contexts): a transfer with a loop
  // goes to driver `loop % loops.size()`, so that its chunks are read on the thread that
  // writes them to its client; one without goes round-robin. Throws std::invalid_argument
  // for no loops.
  explicit curl_driver_pool(std::vector<std::shared_ptr<boost::asio::io_context>> loops);

  transfer_id start(upstream_request request, transfer_callback on_event) override;
  void cancel(transfer_id id) override;

 private:
  std::vector<std::unique_ptr<curl_driver>> drivers_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace streamgate
