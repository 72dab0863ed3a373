#pragma once

#include "providers/http/curl_driver.hpp"

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

namespace streamgate {

// Several curl drivers, each a libcurl multi loop on a thread of its own, for machines where
// one thread cannot carry every stream: since tokens (SSE and WebSocket) are also written to their
// clients from the driver's thread, one driver is a ceiling on the whole gateway's tokens per
// second. A transfer stays on the driver that started it; new ones go round-robin. Each driver
// keeps its own connection pool, so N drivers hold up to N idle connections per provider. A pool of
// one is the default: the same as one curl_driver, behind one more indirection per start.
class curl_driver_pool final : public transfer_runner {
 public:
  explicit curl_driver_pool(std::size_t threads);

  transfer_id start(upstream_request request, transfer_callback on_event) override;
  void cancel(transfer_id id) override;

 private:
  std::vector<std::unique_ptr<curl_driver>> drivers_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace streamgate
