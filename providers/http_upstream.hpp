#pragma once

#include "actors/upstream_opener.hpp"
#include "providers/http/provider_config.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace streamgate {

class transfer_runner;

// The transfers of one HTTP provider, started on the caller's thread: the request is built and
// handed to the driver, deltas go from the driver thread into the session's log (the lane), the
// terminal event to the lane's on_terminal. It keeps the live transfers so that its provider's
// end can end them (close), as a crashed provider's streams used to end with it. `upstreams`
// counts transfers that can still produce events (the engine's active-upstream gauge).
class http_upstream final : public upstream_opener,
                            public std::enable_shared_from_this<http_upstream> {
 public:
  http_upstream(http_provider_config config, std::shared_ptr<transfer_runner> driver,
                std::atomic<std::int64_t>* upstreams);

  std::unique_ptr<upstream_transfer> open(const chat_request& request, upstream_lane lane) override;

  // The provider ended with `why`: every live transfer ends with an error event (upstream_error,
  // or upstream_interrupted once it has streamed), and open refuses from now on.
  void close(const std::string& why);

  const std::string& name() const { return config_.name; }
  std::size_t live() const;

 private:
  struct record;
  class handle;
  // Claims a transfer's end for its caller: true once per transfer, whoever ends it first
  // (its terminal event, a cancel, the provider's end).
  bool claim(record& r);

  const http_provider_config config_;
  const std::shared_ptr<transfer_runner> driver_;
  std::atomic<std::int64_t>* const upstreams_;
  mutable std::mutex mu_;
  bool closed_ = false;                                              // guarded by mu_
  std::unordered_map<std::uint64_t, std::shared_ptr<record>> live_;  // guarded by mu_
};

}  // namespace streamgate
