#pragma once

#include "providers/http/stream_decoder.hpp"

#include <streamgate/chat_request.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace streamgate {

// An API key. It prints as *** wherever it ends up, so logging a config never leaks it;
// only request building calls reveal().
class secret {
 public:
  secret() = default;
  explicit secret(std::string value) : value_(std::move(value)) {}
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  // `text` with the key replaced by *** wherever it appears, whole or cut: any run of at
  // least 8 characters (the whole key, if shorter) that matches the key's start. A provider
  // may quote the key cut by its own limit; shorter runs are what every key of a kind starts
  // with ("sk-proj"). Keys under 4 characters are left alone: scrubbing them would only
  // garble text.
  std::string scrub(std::string text) const;
  friend std::ostream& operator<<(std::ostream& os, const secret&) { return os << "***"; }

 private:
  std::string value_;
};

struct upstream_timeouts {
  std::chrono::milliseconds connect{10000};
  std::chrono::milliseconds first_byte{60000};  // request sent → first body byte
  std::chrono::milliseconds idle{60000};        // longest gap between body bytes
  std::chrono::milliseconds total{600000};      // the whole request
};

// A provider preset is data, not code: a base URL and the adapter that speaks its stream.
struct provider_preset {
  std::string_view name;
  std::string_view base_url;
  adapter_kind adapter;
};

// nullptr for an unknown name. Known: openai, nvidia, zhipu, hunyuan, zhipu_legacy, custom.
const provider_preset* find_preset(std::string_view name);

struct http_provider_config {
  std::string name;
  std::string base_url;
  adapter_kind adapter = adapter_kind::openai;
  std::string api_key_env;
  secret api_key;
  std::map<std::string, std::string> models;  // client model name → provider model name
  std::vector<std::pair<std::string, std::string>> headers;
  upstream_timeouts timeouts;
  std::size_t max_body_bytes = 64 << 20;
  std::size_t max_line_bytes = 1 << 20;
  std::string ca_file;  // PEM bundle to verify the provider's TLS certificate; empty: system's
};

// One upstream HTTP request, ready for the driver.
struct upstream_request {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  upstream_timeouts timeouts;
  std::size_t max_body_bytes = 64 << 20;
  std::size_t max_line_bytes = 1 << 20;
  adapter_kind adapter = adapter_kind::openai;
  std::string ca_file;
  secret key;            // only so that error text echoed from the provider can be scrubbed of it
  std::string provider;  // the configured provider's name: the metrics' label
  // The I/O loop of the client connection this transfer streams to (http_server runs one
  // io_context per loop); -1: no preference. A transfer on its client's loop is read and
  // written to the client on one thread.
  int io_loop = -1;
};

// The provider's request for a client request: model renamed, streaming forced, usage asked
// for, the key in the Authorization header (a signed token for Zhipu's legacy API).
upstream_request build_request(const http_provider_config& cfg, const chat_request& req,
                               std::int64_t now_ms);

// Zhipu's legacy API authenticates with a JWT (HS256) made from a key "<id>.<secret>".
// Empty when the key has no '.'.
std::string zhipu_token(const std::string& api_key, std::int64_t now_ms,
                        std::int64_t ttl_ms = 3600 * 1000);

}  // namespace streamgate
