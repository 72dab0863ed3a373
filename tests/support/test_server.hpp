#pragma once

#include "supervision/gateway.hpp"
#include "tests/support/eventually.hpp"
#include "transports/server/http_options.hpp"
#include "transports/server/http_server.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

namespace streamgate::test {

// The real engine and server in-process, on an ephemeral loopback port.
class test_server {
 public:
  explicit test_server(gateway_config gateway = gateway_config::with_mock_provider(),
                       http_options options = default_options());
  ~test_server();

  static http_options default_options();
  // default_options() with /admin enabled (--admin).
  static http_options admin_options();

  std::uint16_t port() const;
  gateway& engine();
  http_server& server();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The admin view (what GET /admin/providers shows) by provider name, from the engine directly.
std::map<std::string, nlohmann::json> providers_by_name(gateway& g);

// One series of the server's GET /metrics, e.g. `streamgate_session_active` or
// `name{label="v"}` exactly as exposed; 0 when absent.
double metric(std::uint16_t port, const std::string& series);

// A chat request body for the mock provider with a given stream shape.
std::string mock_body(bool stream, unsigned tokens, unsigned interval_ms = 0,
                      unsigned first_token_ms = 0, bool include_usage = false);

}  // namespace streamgate::test
