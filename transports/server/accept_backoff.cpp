#include "transports/server/accept_backoff.hpp"

#include <algorithm>

namespace streamgate {

std::chrono::milliseconds accept_backoff::failed(clock::time_point now) {
  delay_ = delay_.count() == 0 ? first_delay : std::min(delay_ * 2, max_delay);
  ++unlogged_;
  log_now_.reset();
  if (!last_log_ || now - *last_log_ >= log_interval) {
    log_now_ = unlogged_;
    unlogged_ = 0;
    last_log_ = now;
  }
  return delay_;
}

std::size_t connection_limit_for(std::size_t configured, std::uint64_t open_files_limit) {
  auto reserved =
      std::max(open_files_limit / 4, std::min<std::uint64_t>(128, open_files_limit / 2));
  auto room = std::max<std::uint64_t>(1, open_files_limit - reserved);
  return static_cast<std::size_t>(std::min<std::uint64_t>(configured, room));
}

}  // namespace streamgate
