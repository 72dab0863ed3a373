#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace streamgate {

// Stable error codes seen by clients (docs/protocol.md lists them). A code is a contract:
// never rename one, only add.
namespace error_code {
// Client's fault.
inline constexpr std::string_view invalid_json = "invalid_json";
inline constexpr std::string_view invalid_request = "invalid_request";
inline constexpr std::string_view model_not_found = "model_not_found";
inline constexpr std::string_view body_too_large = "body_too_large";
inline constexpr std::string_view method_not_allowed = "method_not_allowed";
inline constexpr std::string_view not_found = "not_found";
inline constexpr std::string_view session_not_found = "session_not_found";
// WebSocket streams (docs/protocol.md): a stream id in use, an unknown stream id, a resume
// after the stream's terminal event.
inline constexpr std::string_view duplicate_stream = "duplicate_stream";
inline constexpr std::string_view stream_not_found = "stream_not_found";
inline constexpr std::string_view session_ended = "session_ended";
// Access control (docs/security.md): no or a wrong gateway key; what the key may not use; a
// browser page from an origin the gateway does not serve; a JSON endpoint sent something else.
inline constexpr std::string_view invalid_api_key = "invalid_api_key";
inline constexpr std::string_view model_not_allowed = "model_not_allowed";
inline constexpr std::string_view origin_not_allowed = "origin_not_allowed";
inline constexpr std::string_view unsupported_media_type = "unsupported_media_type";
// A key's or a client address's own limits (429, with Retry-After): sessions per minute,
// tokens per minute, streams at once, connections at once.
inline constexpr std::string_view rate_limited = "rate_limited";
inline constexpr std::string_view token_limit = "token_limit";
inline constexpr std::string_view stream_limit = "stream_limit";
inline constexpr std::string_view connection_limit = "connection_limit";
inline constexpr std::string_view client_rate_limited = "client_rate_limited";
inline constexpr std::string_view client_connection_limit = "client_connection_limit";
// Capacity.
inline constexpr std::string_view quota_exhausted = "quota_exhausted";
inline constexpr std::string_view too_many_sessions = "too_many_sessions";
inline constexpr std::string_view too_many_connections = "too_many_connections";
inline constexpr std::string_view too_many_streams = "too_many_streams";
inline constexpr std::string_view server_shutting_down = "server_shutting_down";
// The session logs reached sessions.log_budget_bytes and this running stream held the most.
inline constexpr std::string_view log_budget_exceeded = "log_budget_exceeded";
// Upstream outcomes.
inline constexpr std::string_view upstream_connect_failed = "upstream_connect_failed";
inline constexpr std::string_view upstream_bad_request = "upstream_bad_request";
inline constexpr std::string_view upstream_auth_failed = "upstream_auth_failed";
inline constexpr std::string_view upstream_model_not_found = "upstream_model_not_found";
inline constexpr std::string_view upstream_rate_limited = "upstream_rate_limited";
inline constexpr std::string_view upstream_server_error = "upstream_server_error";
inline constexpr std::string_view upstream_connect_timeout = "upstream_connect_timeout";
inline constexpr std::string_view upstream_first_byte_timeout = "upstream_first_byte_timeout";
inline constexpr std::string_view upstream_idle_timeout = "upstream_idle_timeout";
inline constexpr std::string_view upstream_request_timeout = "upstream_request_timeout";
inline constexpr std::string_view upstream_malformed = "upstream_malformed";
inline constexpr std::string_view upstream_error = "upstream_error";  // error object mid-stream
inline constexpr std::string_view upstream_interrupted = "upstream_interrupted";
inline constexpr std::string_view upstream_too_large = "upstream_too_large";
inline constexpr std::string_view no_provider_available = "no_provider_available";
inline constexpr std::string_view internal_error = "internal_error";
// A stream ended by a cancel (client, resume window, operator).
inline constexpr std::string_view cancelled = "cancelled";
}  // namespace error_code

// HTTP status a transport uses when an error ends a request before any byte of the stream.
int http_status_for(std::string_view code);

// Client-supplied text (a model name, a path, a stream id, a field name) as an error message
// quotes it: at most max_excerpt_bytes of it, cut at a UTF-8 character boundary and marked
// with "...", so that an error never sends a client's 100 KB back to it, or into the log.
inline constexpr std::size_t max_excerpt_bytes = 256;
std::string excerpt(std::string_view client_text);

// Whether an upstream failure before the first token may be retried on another provider.
bool is_retryable_before_first_token(std::string_view code);

}  // namespace streamgate
