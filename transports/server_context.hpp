#pragma once

#include "actors/admin_service.hpp"
#include "actors/session_service.hpp"
#include "transports/http_options.hpp"
#include "transports/post_gate.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace streamgate {

// What every connection of one server shares. Owned by http_server; outlives connections
// (they hold it by shared_ptr).
struct server_context {
  session_service& service;
  admin_service* admin = nullptr;  // set when the operator enabled /admin
  http_options options;
  std::function<std::string()> metrics_text;
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::int64_t> streams{0};   // connections with a response still streaming
  std::atomic<std::int64_t> refusing{0};  // over-limit connections being told so
  std::atomic<bool> stopping{false};
  // Closed when the server stops: sessions then no longer post into its io_context.
  std::shared_ptr<post_gate> gate = std::make_shared<post_gate>();
  // Clients dropped by the server, by reason (operators and tests see who was cut and why).
  std::atomic<std::uint64_t> slow_consumer_drops{0};
  std::atomic<std::uint64_t> ws_ping_timeouts{0};
  enum class drop_reason { slow_consumer, ping_timeout };
  // Counts a client the server cut on its own: in this server's counters above and in
  // streamgate_client_dropped_total{transport, reason}.
  void count_drop(const char* transport, drop_reason why);

  // Streaming connections an operator may cut (POST /admin/connections/drop): how tests
  // simulate a network drop from the server side. Only filled when admin is enabled.
  void add_droppable(const void* key, std::function<void()> drop) {
    if (!admin) return;
    std::lock_guard<std::mutex> g{droppable_mutex_};
    droppable_[key] = std::move(drop);
  }
  void remove_droppable(const void* key) {
    if (!admin) return;
    std::lock_guard<std::mutex> g{droppable_mutex_};
    droppable_.erase(key);
  }
  std::size_t drop_all() {
    std::map<const void*, std::function<void()>> all;
    {
      std::lock_guard<std::mutex> g{droppable_mutex_};
      all.swap(droppable_);
    }
    for (auto& [key, drop] : all) drop();
    return all.size();
  }

  server_context(session_service& s, http_options o) : service(s), options(std::move(o)) {}

 private:
  std::mutex droppable_mutex_;
  std::map<const void*, std::function<void()>> droppable_;
};

}  // namespace streamgate
