#pragma once

// Quota limits and the live figures a pool exposes, without CAF: configuration and readers on
// other threads include only this.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace streamgate {

// Rate rule: at most `rpm` grants in any 60-second window (a sliding log of grant times).
// The burst rule that follows: a pool that has been idle for a minute may hand out its whole
// minute's allowance at once; it never hands out more than `rpm` in any 60 s.
struct quota_options {
  std::uint32_t rpm = 0;                           // 0: no rate limit
  std::uint32_t max_concurrent = 0;                // leases held at once; 0: no limit
  std::chrono::milliseconds queue_timeout{30000};  // the longest a request waits in the queue
  std::uint32_t max_queue = 10000;                 // a fuller queue refuses at once
};

// What the pool exposes to readers on other threads (router's least-loaded strategy, admin
// view, metrics). Written only by the pool actor.
struct quota_gauges {
  quota_options limits;
  std::atomic<std::int64_t> leases_in_use{0};
  std::atomic<std::int64_t> queue_length{0};
  std::atomic<std::int64_t> rpm_used{0};   // grants in the last 60 s, as of the pool's last event
  std::atomic<std::int64_t> paused_ms{0};  // remaining upstream-429 pause at the last event
  std::atomic<std::uint64_t> granted_total{0};
  std::atomic<std::uint64_t> refused_total{0};    // no room, and the caller could not wait
  std::atomic<std::uint64_t> expired_total{0};    // waited in the queue until its deadline
  std::atomic<std::uint64_t> reclaimed_total{0};  // leases freed because their holder died

  // Share of the pool free right now, 0..1 (1 for an unlimited pool): least-loaded routing.
  double free_share() const;
};

using quota_gauges_ptr = std::shared_ptr<quota_gauges>;

}  // namespace streamgate
