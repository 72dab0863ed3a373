#pragma once

#include "access/access_control.hpp"
#include "actors/admin_service.hpp"
#include "actors/session_service.hpp"
#include "transports/server/http_options.hpp"

#include <streamgate/chat_request.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace streamgate {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

// What a connection must do with a request. Deciding is a pure function of the request
// (Beast's handle_request idea): routing and validation are tested without sockets.
struct api_action {
  enum class kind {
    respond,         // send `response` as is
    chat_stream,     // POST /v1/chat/completions with stream: true
    chat_complete,   // ... with stream: false
    session_create,  // POST /v1/sessions (long-poll or EventSource clients)
    session_events,  // GET /v1/sessions/{id}/events: SSE when `sse`, else a long poll
    session_cancel,  // POST /v1/sessions/{id}/cancel
    websocket,       // GET /v1/ws upgrade
    admin_status,    // GET /admin/providers
    admin_crash,     // POST /admin/{providers,pools}/{name}/crash, /admin/router/crash:
                     // `crash` says which, `session_id` holds the name
    admin_drop,      // POST /admin/connections/drop: cut every streaming client connection
  };
  kind what = kind::respond;
  http_response response;
  chat_request request;
  std::string session_id;
  std::uint64_t after_seq = 0;
  std::uint32_t wait_ms = 0;
  bool sse = false;
  crash_target crash = crash_target::provider;
  // websocket: the upgrade is taken, then closed at once with this code and `ws_reason`
  // (a browser sees a close code, never an HTTP status); 0: served.
  std::uint16_t ws_close = 0;
  std::string ws_reason;
};

struct api_context {
  const session_service& service;
  const http_options& options;
  std::function<std::string()> metrics_text;  // Prometheus exposition for GET /metrics
  // Who the request's credential names (access_control::authenticate); null: nobody, which
  // is refused where a key is required. `access` null: no access control at all (routing
  // tests).
  const access_control* access = nullptr;
  const key_account* caller = nullptr;
};

api_action dispatch(const http_request& req, const api_context& ctx);

// The gateway key a request shows: `Authorization: Bearer KEY`, or for a WebSocket upgrade
// the `bearer.KEY` entry of Sec-WebSocket-Protocol (the one header a browser's WebSocket
// can set). Empty: none.
std::string_view credential_of(const http_request& req);

// The first item of a comma-separated header value (items trimmed of blanks) that `match`
// accepts; empty when none does. Sec-WebSocket-Protocol is such a list.
std::string_view find_item(std::string_view list,
                           const std::function<bool(std::string_view)>& match);

// The CORS headers an answer to `req` carries ("Name: value\r\n" lines): none unless CORS
// is configured and the request's Origin is allowed.
std::string cors_headers(const http_request& req, const http_options& options);
void add_cors_headers(http_response& res, std::string_view lines);

// An OpenAI-shaped error response with the status our code maps to.
http_response error_response(unsigned version, bool keep_alive, std::string_view code,
                             std::string_view message, std::uint32_t retry_after_s = 0);

http_response json_response(unsigned version, bool keep_alive, http::status status,
                            std::string body);

}  // namespace streamgate
