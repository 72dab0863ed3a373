#include "access/rate_window.hpp"

#include <algorithm>
#include <cmath>

namespace streamgate {

rate_window::rate_window(std::uint64_t per_minute, clock::time_point now)
    : per_minute_(static_cast<double>(per_minute)), level_(per_minute_), at_(now) {}

void rate_window::refill(clock::time_point now) {
  if (now <= at_) return;
  std::chrono::duration<double> elapsed = now - at_;
  level_ = std::min(per_minute_, level_ + elapsed.count() * per_minute_ / 60.0);
  at_ = now;
}

bool rate_window::take(clock::time_point now) {
  if (unlimited()) return true;
  refill(now);
  if (level_ < 1.0) return false;
  level_ -= 1.0;
  return true;
}

bool rate_window::available(clock::time_point now) {
  if (unlimited()) return true;
  refill(now);
  return level_ > 0.0;
}

void rate_window::charge(clock::time_point now, double n) {
  if (unlimited()) return;
  refill(now);
  level_ = std::min(per_minute_, level_ - n);
}

bool rate_window::full(clock::time_point now) {
  refill(now);
  return level_ >= per_minute_;
}

std::uint32_t rate_window::retry_after_s(clock::time_point now) {
  if (unlimited()) return 1;
  refill(now);
  double missing = std::max(0.0, 1.0 - level_);
  double seconds = std::ceil(missing * 60.0 / per_minute_);
  return static_cast<std::uint32_t>(std::clamp(seconds, 1.0, 3600.0));
}

}  // namespace streamgate
