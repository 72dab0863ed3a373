#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace streamgate {

// One upstream in the engine's active-upstream gauge, for as long as it can still produce
// events. Providers release it just before their terminal event leaves: the session hands
// its quota lease on at that event, and the gauge must never lag the leases. Every other
// ending (cancel, crash, session gone) releases it when the actor exits. Releasing twice is
// harmless; copies share one count.
class upstream_count {
 public:
  upstream_count() = default;
  explicit upstream_count(std::atomic<std::int64_t>* gauge)
      : gauge_(gauge), counted_(std::make_shared<std::atomic<bool>>(gauge != nullptr)) {
    if (gauge_) gauge_->fetch_add(1, std::memory_order_relaxed);
  }

  void release() const {
    if (counted_ && counted_->exchange(false)) gauge_->fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t>* gauge_ = nullptr;
  std::shared_ptr<std::atomic<bool>> counted_;
};

}  // namespace streamgate
