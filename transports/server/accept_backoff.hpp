#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace streamgate {

// What the listener does when accept() fails for want of a resource (descriptors, kernel
// buffers): retrying at once finds the same failure, spins a core and floods the log. It waits,
// 10 ms doubling to 1 s, until an accept succeeds; and it says so in the log at most once per
// `log_interval`, with how many failures there were since it last did.
class accept_backoff {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds first_delay{10};
  static constexpr std::chrono::milliseconds max_delay{1000};
  static constexpr std::chrono::seconds log_interval{10};

  // A failed accept at `now`: how long to wait before the next one.
  std::chrono::milliseconds failed(clock::time_point now);
  // An accept succeeded: the next failure waits the shortest delay again.
  void succeeded() { delay_ = std::chrono::milliseconds{0}; }
  // After failed(): the failures to report in a log line now (this one included), or nothing
  // when a line was written less than log_interval ago.
  std::optional<std::uint64_t> to_log() const { return log_now_; }

 private:
  std::chrono::milliseconds delay_{0};
  std::uint64_t unlogged_ = 0;
  std::optional<clock::time_point> last_log_;
  std::optional<std::uint64_t> log_now_;
};

// The connections a server may hold at once, given `configured` (http.max_connections) and
// the process's descriptor limit: a quarter of the descriptors (at least 128, at most half)
// stay for upstream connections, refusals and the engine's own files, so that max_connections
// refuses clients before accept() runs out of descriptors.
std::size_t connection_limit_for(std::size_t configured, std::uint64_t open_files_limit);

}  // namespace streamgate
