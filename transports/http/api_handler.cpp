#include "transports/http/api_handler.hpp"

#include "actors/error_code.hpp"
#include "telemetry/stats.hpp"
#include "transports/openai/openai_format.hpp"
#include "transports/ws/ws_frame.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

namespace streamgate {
namespace {

using json = nlohmann::json;
constexpr std::string_view sessions_prefix = "/v1/sessions/";

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

// Value of `key` in the query string, or empty.
std::string_view query_param(std::string_view target, std::string_view key) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  auto rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

api_action respond(http_response res) {
  api_action a;
  a.response = std::move(res);
  return a;
}

api_action error(const http_request& req, std::string_view code, std::string message) {
  return respond(error_response(req.version(), req.keep_alive(), code, message));
}

api_action no_such_endpoint(const http_request& req, std::string_view path) {
  return error(req, error_code::not_found, "no such endpoint: " + excerpt(path));
}

api_action method_not_allowed(const http_request& req, const char* allow) {
  auto a = error(req, error_code::method_not_allowed,
                 std::string{req.method_string()} + " is not allowed here; use " + allow);
  a.response.set(http::field::allow, allow);
  return a;
}

api_action models(const http_request& req, const api_context& ctx) {
  json data = json::array();
  auto list = ctx.access && ctx.caller ? ctx.access->models(*ctx.caller) : ctx.service.models();
  for (auto& m : list)
    data.push_back({{"id", m.id}, {"object", "model"}, {"created", 0}, {"owned_by", m.owned_by}});
  return respond(json_response(req.version(), req.keep_alive(), http::status::ok,
                               json{{"object", "list"}, {"data", data}}.dump()));
}

api_action healthz(const http_request& req, const api_context& ctx) {
  auto c = ctx.service.counts();
  json body{{"status", "ok"},
            {"active_sessions", c.active_sessions},
            {"live_sessions", c.live_sessions},
            {"active_upstreams", c.active_upstreams}};
  return respond(json_response(req.version(), req.keep_alive(), http::status::ok, body.dump()));
}

// For load balancers and Kubernetes readiness probes: 200 while the engine runs and can route
// to at least one provider, else 503. /healthz says only that the process answers.
api_action readyz(const http_request& req, const api_context& ctx) {
  auto c = ctx.service.counts();
  bool ready = c.engine_up && c.routable_providers > 0;
  json body{{"status", ready ? "ready" : "not_ready"},
            {"engine", c.engine_up ? "up" : "down"},
            {"routable_providers", c.routable_providers}};
  if (!ready)
    body["reason"] = !c.engine_up ? "the engine stopped" : "no provider can be routed to now";
  return respond(json_response(req.version(), req.keep_alive(),
                               ready ? http::status::ok : http::status::service_unavailable,
                               body.dump()));
}

api_action metrics_page(const http_request& req, const api_context& ctx) {
  http_response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body() = ctx.metrics_text ? ctx.metrics_text() : std::string{};
  res.prepare_payload();
  return respond(std::move(res));
}

// Parses a chat request body into `a.request`, or turns `a` into the 400 response.
bool parse_body(const http_request& req, api_action& a) {
  auto parsed = parse_chat_request(req.body());
  if (auto* err = std::get_if<request_error>(&parsed)) {
    a = error(req, err->code, err->message);
    return false;
  }
  a.request = std::move(std::get<chat_request>(parsed));
  return true;
}

api_action chat_completions(const http_request& req) {
  api_action a;
  if (!parse_body(req, a)) return a;
  a.what = a.request.stream ? api_action::kind::chat_stream : api_action::kind::chat_complete;
  return a;
}

api_action sessions(const http_request& req, std::string_view path) {
  api_action a;
  auto rest = path.substr(sessions_prefix.size());
  auto slash = rest.find('/');
  auto id = rest.substr(0, slash);
  auto verb = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  if (id.empty() || (verb != "events" && verb != "cancel")) return no_such_endpoint(req, path);
  a.session_id = std::string{id};
  if (verb == "cancel") {
    if (req.method() != http::verb::post) return method_not_allowed(req, "POST");
    a.what = api_action::kind::session_cancel;
    return a;
  }
  if (req.method() != http::verb::get) return method_not_allowed(req, "GET");
  a.what = api_action::kind::session_events;
  auto accept = req[http::field::accept];
  a.sse = accept.find("text/event-stream") != std::string_view::npos;
  // The later of ?after and Last-Event-ID: an EventSource reconnects to its original URL
  // (stale ?after) but sends the id of the last event it received.
  std::string_view last_event_id = req["Last-Event-ID"];
  for (std::string_view v : {query_param(req.target(), "after"), last_event_id}) {
    std::uint64_t seq = 0;
    if (v.empty()) continue;
    if (!parse_u64(v, seq))
      return error(req, error_code::invalid_request,
                   "'after' and Last-Event-ID must be non-negative integers");
    a.after_seq = std::max(a.after_seq, seq);
  }
  std::uint64_t wait = 0;
  auto wait_s = query_param(req.target(), "wait_ms");
  if (!wait_s.empty() && (!parse_u64(wait_s, wait) || wait > 60000))
    return error(req, error_code::invalid_request, "'wait_ms' must be an integer from 0 to 60000");
  a.wait_ms = static_cast<std::uint32_t>(wait);
  return a;
}

// POST /admin/{kind}/{name}/crash: true and the name in `a` when `path` is one.
bool named_crash(std::string_view path, std::string_view kind, api_action& a) {
  if (path.substr(0, kind.size()) != kind) return false;
  auto rest = path.substr(kind.size());
  auto slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos || rest.substr(slash) != "/crash") return false;
  a.session_id = std::string{rest.substr(0, slash)};
  return true;
}

api_action admin(const http_request& req, std::string_view path) {
  constexpr std::string_view providers = "/admin/providers";
  api_action a;
  bool crash = false;
  if (path == "/admin/router/crash") {
    a.crash = crash_target::router;
    crash = true;
  } else if (named_crash(path, "/admin/providers/", a)) {
    a.crash = crash_target::provider;
    crash = true;
  } else if (named_crash(path, "/admin/pools/", a)) {
    a.crash = crash_target::pool;
    crash = true;
  }
  if (crash) {
    if (req.method() != http::verb::post) return method_not_allowed(req, "POST");
    a.what = api_action::kind::admin_crash;
    return a;
  }
  if (path == "/admin/connections/drop") {
    if (req.method() != http::verb::post) return method_not_allowed(req, "POST");
    a.what = api_action::kind::admin_drop;
    return a;
  }
  if (path == providers) {
    if (req.method() != http::verb::get) return method_not_allowed(req, "GET");
    a.what = api_action::kind::admin_status;
    return a;
  }
  return no_such_endpoint(req, path);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A body a browser may send cross-site without asking first (text/plain, a form) must not
// start a session: only application/json, which needs a CORS preflight, is taken.
bool is_json(const http_request& req) {
  auto type = req[http::field::content_type];
  return iequals(trim(type.substr(0, type.find(';'))), "application/json");
}

api_action unsupported_media_type(const http_request& req) {
  return error(req, error_code::unsupported_media_type,
               "the body must be sent as Content-Type: application/json");
}

bool listed(const std::vector<std::string>& list, std::string_view origin) {
  for (auto& o : list) {
    if (o == "*" || iequals(o, origin)) return true;
  }
  return false;
}

// Same host: the Origin's host[:port] is the Host the request was sent to. What a page
// served by this gateway sends; a page anywhere else does not.
bool same_host(const http_request& req, std::string_view origin) {
  auto scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return false;
  auto host = req[http::field::host];
  return !host.empty() && iequals(origin.substr(scheme_end + 3), host);
}

bool origin_allowed(const http_request& req, const http_options& o) {
  auto origin = req[http::field::origin];
  if (origin.empty()) return true;  // not a browser: Origin is what browsers always send
  auto& allowed = o.access.ws_origins;
  return allowed.empty() ? same_host(req, origin) : listed(allowed, origin);
}

bool cors_allowed(const http_request& req, const http_options& o) {
  auto origin = req[http::field::origin];
  return !origin.empty() && listed(o.access.cors_origins, origin);
}

// A CORS preflight: allowed origins hear which methods and headers they may use; others are
// refused, and a browser then sends nothing.
api_action preflight(const http_request& req, const http_options& o) {
  if (!cors_allowed(req, o)) {
    stats::access().auth_failures.with({"origin"}).inc();
    return error(req, error_code::origin_not_allowed, "this origin may not use the API");
  }
  http_response res{http::status::no_content, req.version()};
  res.keep_alive(req.keep_alive());
  res.set(http::field::access_control_allow_methods, "GET, POST");
  res.set(http::field::access_control_allow_headers, "Authorization, Content-Type, Last-Event-ID");
  res.set(http::field::access_control_max_age, "600");
  res.prepare_payload();
  return respond(std::move(res));
}

api_action unauthorized(const http_request& req) {
  bool shown = !credential_of(req).empty();
  stats::access().auth_failures.with({shown ? "invalid_key" : "missing_key"}).inc();
  auto message = shown ? "the gateway key is not valid"
                       : "a gateway key is required: Authorization: Bearer KEY";
  if (path_of(req.target()) == "/v1/ws" && boost::beast::websocket::is_upgrade(req) &&
      req[http::field::sec_websocket_version] == "13" &&
      ws::valid_client_key(req[http::field::sec_websocket_key])) {
    // Taken, then closed with 4401: a browser's WebSocket sees close codes, not statuses.
    api_action a;
    a.what = api_action::kind::websocket;
    a.ws_close = static_cast<std::uint16_t>(ws::close_code::invalid_api_key);
    a.ws_reason = std::string{error_code::invalid_api_key};
    return a;
  }
  auto a = error(req, error_code::invalid_api_key, message);
  a.response.set(http::field::www_authenticate, "Bearer realm=\"streamgate\"");
  return a;
}

const char* content_type_for(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".png")) return "image/png";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

api_action static_file(const http_request& req, const api_context& ctx, std::string_view path) {
  if (ctx.options.web_root.empty() || path.find("..") != std::string_view::npos)
    return no_such_endpoint(req, path);
  std::string file = ctx.options.web_root + std::string{path == "/" ? "/index.html" : path};
  std::ifstream in{file, std::ios::binary};
  if (!in) return no_such_endpoint(req, path);
  std::ostringstream body;
  body << in.rdbuf();
  http_response res{http::status::ok, req.version()};
  res.set(http::field::content_type, content_type_for(file));
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(req.keep_alive());
  res.body() = body.str();
  res.prepare_payload();
  return respond(std::move(res));
}

}  // namespace

http_response json_response(unsigned version, bool keep_alive, http::status status,
                            std::string body) {
  http_response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http_response error_response(unsigned version, bool keep_alive, std::string_view code,
                             std::string_view message, std::uint32_t retry_after_s) {
  auto status = static_cast<http::status>(http_status_for(code));
  auto res = json_response(version, keep_alive, status, openai::error_body(code, message));
  if (status == http::status::too_many_requests || status == http::status::service_unavailable)
    res.set(http::field::retry_after, std::to_string(retry_after_s > 0 ? retry_after_s : 1));
  return res;
}

std::string_view credential_of(const http_request& req) {
  auto authorization = req[http::field::authorization];
  if (!authorization.empty()) return access_control::bearer_token(authorization);
  constexpr std::string_view prefix = "bearer.";
  auto p = find_item(req[http::field::sec_websocket_protocol], [&](std::string_view item) {
    return item.size() > prefix.size() && iequals(item.substr(0, prefix.size()), prefix);
  });
  return p.empty() ? p : p.substr(prefix.size());
}

std::string_view find_item(std::string_view list,
                           const std::function<bool(std::string_view)>& match) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = trim(list.substr(0, comma));
    if (match(item)) return item;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return {};
}

std::string cors_headers(const http_request& req, const http_options& options) {
  if (!cors_allowed(req, options)) return {};
  return "Access-Control-Allow-Origin: " + std::string{req[http::field::origin]} +
         "\r\nVary: Origin\r\nAccess-Control-Expose-Headers: X-Streamgate-Session, "
         "Retry-After\r\n";
}

void add_cors_headers(http_response& res, std::string_view lines) {
  while (!lines.empty()) {
    auto end = lines.find("\r\n");
    auto line = lines.substr(0, end);
    auto colon = line.find(':');
    res.set(line.substr(0, colon), trim(line.substr(colon + 1)));
    if (end == std::string_view::npos) break;
    lines.remove_prefix(end + 2);
  }
}

api_action dispatch(const http_request& req, const api_context& ctx) {
  auto path = path_of(req.target());
  auto method = req.method();
  using role = http_options::role;
  bool operator_path = path == "/metrics" || path.substr(0, 7) == "/admin/";
  bool health = path == "/healthz" || path == "/readyz";
  if (ctx.options.serves == role::admin && !operator_path && !health)
    return no_such_endpoint(req, path);  // the admin listener serves nothing of the API
  if (method == http::verb::options && !req[http::field::access_control_request_method].empty())
    return preflight(req, ctx.options);
  if (operator_path && ctx.options.serves == role::api &&
      !(ctx.access && ctx.caller && ctx.access->config().requires_key() &&
        ctx.access->is_admin(*ctx.caller)))
    return no_such_endpoint(req, path);  // no oracle: the operator's surface is elsewhere
  bool api = path.substr(0, 4) == "/v1/";
  if (api && ctx.access && !ctx.caller) return unauthorized(req);
  if (path == "/v1/chat/completions") {
    if (method != http::verb::post) return method_not_allowed(req, "POST");
    if (!is_json(req)) return unsupported_media_type(req);
    return chat_completions(req);
  }
  if (path == "/v1/sessions") {
    if (method != http::verb::post) return method_not_allowed(req, "POST");
    if (!is_json(req)) return unsupported_media_type(req);
    api_action a;
    if (!parse_body(req, a)) return a;
    a.what = api_action::kind::session_create;
    return a;
  }
  if (path.substr(0, sessions_prefix.size()) == sessions_prefix) return sessions(req, path);
  if (path.substr(0, 7) == "/admin/" && ctx.options.admin) return admin(req, path);
  if (path == "/v1/ws") {
    if (method != http::verb::get) return method_not_allowed(req, "GET");
    if (!boost::beast::websocket::is_upgrade(req))
      return error(req, error_code::invalid_request, "/v1/ws expects a WebSocket upgrade");
    if (req[http::field::sec_websocket_version] != "13") {
      auto a = error(req, error_code::invalid_request, "WebSocket version 13 is required");
      a.response.set(http::field::sec_websocket_version, "13");  // RFC 6455 section 4.2.2
      return a;
    }
    if (!ws::valid_client_key(req[http::field::sec_websocket_key]))
      return error(req, error_code::invalid_request,
                   "Sec-WebSocket-Key must be the base64 of 16 bytes");
    if (!origin_allowed(req, ctx.options)) {
      // Cross-site WebSocket hijacking: a page elsewhere gets no socket at all.
      stats::access().auth_failures.with({"origin"}).inc();
      return error(req, error_code::origin_not_allowed,
                   "WebSocket connections from this origin are not allowed");
    }
    api_action a;
    a.what = api_action::kind::websocket;
    return a;
  }
  using handler = api_action (*)(const http_request&, const api_context&);
  static const std::pair<std::string_view, handler> gets[] = {{"/v1/models", models},
                                                              {"/healthz", healthz},
                                                              {"/readyz", readyz},
                                                              {"/metrics", metrics_page}};
  for (auto& [p, h] : gets) {
    if (path != p) continue;
    if (method != http::verb::get && method != http::verb::head)
      return method_not_allowed(req, "GET");
    return h(req, ctx);
  }
  if (method == http::verb::get) return static_file(req, ctx, path);
  return no_such_endpoint(req, path);
}

}  // namespace streamgate
