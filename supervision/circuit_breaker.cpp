#include "supervision/circuit_breaker.hpp"

namespace streamgate {

const char* to_string(breaker_state s) {
  switch (s) {
    case breaker_state::closed:
      return "closed";
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half_open";
  }
  return "?";
}

bool circuit_breaker::record(bool ok, clock::time_point now) {
  auto before = state_;
  switch (state_) {
    case breaker_state::open:
      break;  // a late outcome of an attempt started before the breaker opened
    case breaker_state::half_open:
      if (!ok) {
        trip(now);
      } else if (++probe_successes_ >= opts_.half_open_probes) {
        move_to(breaker_state::closed);
      }
      break;
    case breaker_state::closed:
      consecutive_failures_ = ok ? 0 : consecutive_failures_ + 1;
      if (opts_.rate_window > 0) {
        recent_.push_back(!ok);
        if (recent_.size() > opts_.rate_window) recent_.pop_front();
      }
      if (consecutive_failures_ >= opts_.failure_threshold || rate_exceeded()) trip(now);
      break;
  }
  return state_ != before;
}

bool circuit_breaker::poll(clock::time_point now) {
  if (state_ != breaker_state::open || now < reopens_at_) return false;
  move_to(breaker_state::half_open);
  return true;
}

void circuit_breaker::trip(clock::time_point now) {
  reopens_at_ = now + opts_.cooldown;
  move_to(breaker_state::open);
}

void circuit_breaker::move_to(breaker_state s) {
  if (s == state_) return;
  state_ = s;
  ++transitions_;
  // Every state starts from a clean slate: a recovered provider is not held to its past.
  consecutive_failures_ = 0;
  probe_successes_ = 0;
  recent_.clear();
}

bool circuit_breaker::rate_exceeded() const {
  // Only a full window says anything: two failures out of three requests is noise.
  if (opts_.rate_window == 0 || recent_.size() < opts_.rate_window) return false;
  std::size_t failures = 0;
  for (bool f : recent_) failures += f ? 1 : 0;
  return static_cast<double>(failures) >= opts_.failure_rate * static_cast<double>(recent_.size());
}

}  // namespace streamgate
