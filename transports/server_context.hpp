#pragma once

#include "actors/admin_service.hpp"
#include "actors/session_service.hpp"
#include "transports/http_options.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
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
  std::atomic<std::int64_t> streams{0};  // connections with a response still streaming
  std::atomic<bool> stopping{false};

  server_context(session_service& s, http_options o) : service(s), options(std::move(o)) {}
};

}  // namespace streamgate
