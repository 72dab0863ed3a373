#pragma once

#include <chrono>
#include <cstdint>
#include <deque>

namespace streamgate {

// closed → open after `failure_threshold` consecutive failures, or when at least
// `failure_rate` of the last `rate_window` outcomes failed; open → half_open once `cooldown`
// passed; half_open admits `half_open_probes` requests: all of them succeeding closes the
// breaker, any failure opens it again for another cooldown.
struct breaker_options {
  std::uint32_t failure_threshold = 5;
  std::uint32_t rate_window = 20;  // outcomes; 0 turns the rate rule off
  double failure_rate = 0.5;
  std::chrono::milliseconds cooldown{10000};
  std::uint32_t half_open_probes = 1;
};

enum class breaker_state : std::uint8_t { closed, open, half_open };

const char* to_string(breaker_state s);

// Pure logic, no clock of its own: the owner passes the time in, so tests drive it directly.
class circuit_breaker {
 public:
  using clock = std::chrono::steady_clock;

  explicit circuit_breaker(breaker_options opts = {}) : opts_(opts) {}

  breaker_state state() const { return state_; }

  // An attempt's outcome; returns true if the state changed.
  bool record(bool ok, clock::time_point now);

  // Moves open → half_open once the cooldown is over; returns true if the state changed.
  bool poll(clock::time_point now);

  // When an open breaker may let probes through.
  clock::time_point reopens_at() const { return reopens_at_; }

  std::uint32_t consecutive_failures() const { return consecutive_failures_; }
  std::uint64_t transitions() const { return transitions_; }
  const breaker_options& options() const { return opts_; }

 private:
  void trip(clock::time_point now);
  void move_to(breaker_state s);
  bool rate_exceeded() const;

  breaker_options opts_;
  breaker_state state_ = breaker_state::closed;
  std::uint32_t consecutive_failures_ = 0;
  std::deque<bool> recent_;  // last outcomes, true = failure
  std::uint32_t probe_successes_ = 0;
  clock::time_point reopens_at_{};
  std::uint64_t transitions_ = 0;
};

}  // namespace streamgate
