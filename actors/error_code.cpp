#include "actors/error_code.hpp"

#include <array>
#include <utility>

namespace streamgate {

std::string excerpt(std::string_view client_text) {
  if (client_text.size() <= max_excerpt_bytes) return std::string{client_text};
  auto cut = max_excerpt_bytes;
  // Back to the first byte of the character that straddles the cut (continuations: 10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(client_text[cut]) & 0xC0) == 0x80) --cut;
  return std::string{client_text.substr(0, cut)} + "...";
}

int http_status_for(std::string_view code) {
  namespace ec = error_code;
  static constexpr std::array<std::pair<std::string_view, int>, 35> table{{
      {ec::invalid_json, 400},
      {ec::invalid_request, 400},
      {ec::model_not_found, 404},
      {ec::body_too_large, 413},
      {ec::method_not_allowed, 405},
      {ec::not_found, 404},
      {ec::session_not_found, 404},
      {ec::invalid_api_key, 401},
      {ec::model_not_allowed, 403},
      {ec::origin_not_allowed, 403},
      {ec::unsupported_media_type, 415},
      {ec::rate_limited, 429},
      {ec::token_limit, 429},
      {ec::stream_limit, 429},
      {ec::connection_limit, 429},
      {ec::client_rate_limited, 429},
      {ec::client_connection_limit, 429},
      {ec::quota_exhausted, 429},
      {ec::too_many_sessions, 503},
      {ec::too_many_connections, 503},
      {ec::too_many_streams, 503},
      {ec::server_shutting_down, 503},
      {ec::log_budget_exceeded, 503},
      {ec::upstream_bad_request, 400},
      {ec::upstream_auth_failed, 502},
      {ec::upstream_model_not_found, 404},
      {ec::upstream_rate_limited, 429},
      {ec::upstream_connect_failed, 502},
      {ec::upstream_server_error, 502},
      {ec::upstream_connect_timeout, 504},
      {ec::upstream_first_byte_timeout, 504},
      {ec::upstream_idle_timeout, 504},
      {ec::upstream_request_timeout, 504},
      {ec::no_provider_available, 503},
      {ec::internal_error, 500},
  }};
  for (const auto& [c, status] : table) {
    if (c == code) return status;
  }
  return 502;  // any other upstream outcome is a bad gateway
}

bool is_retryable_before_first_token(std::string_view code) {
  namespace ec = error_code;
  // 400 and 404 are the client's request: another provider would say the same.
  return code == ec::upstream_connect_failed || code == ec::upstream_connect_timeout ||
         code == ec::upstream_first_byte_timeout || code == ec::upstream_idle_timeout ||
         code == ec::upstream_request_timeout || code == ec::upstream_too_large ||
         code == ec::upstream_server_error || code == ec::upstream_rate_limited ||
         code == ec::upstream_auth_failed || code == ec::upstream_malformed ||
         code == ec::upstream_interrupted || code == ec::upstream_error ||
         code == ec::quota_exhausted;
}

}  // namespace streamgate
