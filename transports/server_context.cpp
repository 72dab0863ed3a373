#include "transports/server_context.hpp"

#include "telemetry/stats.hpp"

namespace streamgate {

void server_context::count_drop(const char* transport, drop_reason why) {
  bool slow = why == drop_reason::slow_consumer;
  (slow ? slow_consumer_drops : ws_ping_timeouts).fetch_add(1, std::memory_order_relaxed);
  stats::clients().dropped.with({transport, slow ? "slow_consumer" : "ping_timeout"}).inc();
}

}  // namespace streamgate
