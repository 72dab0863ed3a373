#include "transports/server/server_context.hpp"

#include "telemetry/stats.hpp"

namespace streamgate {

const char* server_context::name(drop_reason why) {
  switch (why) {
    case drop_reason::slow_consumer:
      return "slow_consumer";
    case drop_reason::ping_timeout:
      return "ping_timeout";
    case drop_reason::write_timeout:
      return "write_timeout";
  }
  return "unknown";
}

void server_context::count_drop(const char* transport, drop_reason why) {
  switch (why) {
    case drop_reason::slow_consumer:
      slow_consumer_drops.fetch_add(1, std::memory_order_relaxed);
      break;
    case drop_reason::ping_timeout:
      ws_ping_timeouts.fetch_add(1, std::memory_order_relaxed);
      break;
    case drop_reason::write_timeout:
      write_timeouts.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  stats::clients().dropped.with({transport, name(why)}).inc();
}

}  // namespace streamgate
