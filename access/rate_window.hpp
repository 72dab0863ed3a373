#pragma once

#include <chrono>
#include <cstdint>

namespace streamgate {

// A per-minute allowance as a token bucket: `per_minute` units refill evenly over a minute,
// and at most `per_minute` are held, so a burst of a whole minute's worth is allowed once
// and the long-run rate is the limit. Not thread-safe: its owner locks.
class rate_window {
 public:
  using clock = std::chrono::steady_clock;

  explicit rate_window(std::uint64_t per_minute = 0, clock::time_point now = clock::now());

  bool unlimited() const { return per_minute_ == 0; }
  // Takes one unit when one is there.
  bool take(clock::time_point now);
  // Whether anything is left (the allowance is not overdrawn).
  bool available(clock::time_point now);
  // Spends `n` (may overdraw: tokens counted after a stream was let in); negative gives back.
  void charge(clock::time_point now, double n);
  // Whether the allowance is whole again: its history no longer matters.
  bool full(clock::time_point now);
  // Whole seconds until one unit is there again (at least 1).
  std::uint32_t retry_after_s(clock::time_point now);

 private:
  void refill(clock::time_point now);

  double per_minute_;
  double level_;
  clock::time_point at_;
};

}  // namespace streamgate
