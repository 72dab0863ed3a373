#include "transports/http/http_connection.hpp"

#include "actors/error_code.hpp"
#include "telemetry/log.hpp"
#include "transports/connection/connection_sink.hpp"
#include "transports/openai/openai_format.hpp"
#include "transports/ws/ws_connection.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include <chrono>

namespace streamgate {

namespace beast = boost::beast;
namespace net = boost::asio;
using json = nlohmann::json;

http_connection::http_connection(net::ip::tcp::socket&& socket, std::shared_ptr<server_context> ctx,
                                 client_identity who, bool over_limit)
    : guarded_connection(socket.get_executor()),
      stream_(std::move(socket)),
      ctx_(std::move(ctx)),
      loop_(ctx_->loop_of(&net::query(stream_.get_executor(), net::execution::context))),
      over_limit_(over_limit),
      who_(std::move(who)),
      timer_(stream_.get_executor()) {
  set_write_timeout(ctx_->options.write_timeout);
  // No synchronous call on a client socket may wait (asio's blocking mode would poll until
  // the peer sends): it would hold the connection's strand and an I/O thread.
  beast::error_code ec;
  stream_.socket().non_blocking(true, ec);
  (over_limit_ ? ctx_->refusing : ctx_->connections).fetch_add(1, std::memory_order_relaxed);
}

http_connection::~http_connection() {
  (over_limit_ ? ctx_->refusing : ctx_->connections).fetch_sub(1, std::memory_order_relaxed);
}

void http_connection::run() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    auto lk = self->guard();
    self->do_read();
  });
}

void http_connection::do_read() {
  parser_.emplace();
  parser_->body_limit(ctx_->options.max_body_bytes);
  parser_->header_limit(static_cast<std::uint32_t>(ctx_->options.max_header_bytes));
  if (phase_ == phase::opening || buffer_.size() > 0) {
    read_request();
    return;
  }
  // A kept-alive connection may stay quiet up to the idle timeout; its next request's headers
  // are then due within header_timeout of their first byte.
  phase_ = phase::idle;
  stream_.expires_after(ctx_->options.idle_timeout);
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                            auto lk = self->guard();
                            self->buffer_.commit(n);
                            if (ec || self->gone()) {
                              self->close();
                              return;
                            }
                            self->read_request();
                          });
}

void http_connection::read_request() {
  phase_ = phase::exchange;
  // A refused client gets a short while to say what it wanted.
  auto deadline = ctx_->options.header_timeout;
  if (over_limit_)
    deadline = std::min<std::chrono::milliseconds>(deadline, std::chrono::seconds(2));
  stream_.expires_after(deadline);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void http_connection::on_header(beast::error_code ec) {
  if (ec) {
    if (ec == beast::error::timeout) log::info("client_dropped", {{"reason", "header_timeout"}});
    on_read(ec, 0);
    return;
  }
  auto lk = guard();
  if (gone()) return;
  // The body may take as long as a quiet client may (max_body_bytes bounds its size).
  stream_.expires_after(ctx_->options.idle_timeout);
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_read(ec, n); });
}

void http_connection::on_read(beast::error_code ec, std::size_t) {
  auto lk = guard();
  if (ec == http::error::body_limit) {
    send(error_response(
        11, false, error_code::body_too_large,
        "the request body exceeds " + std::to_string(ctx_->options.max_body_bytes) + " bytes"));
    return;
  }
  if (ec == http::error::header_limit) {
    http_response res{http::status::request_header_fields_too_large, 11};
    res.keep_alive(false);
    res.prepare_payload();
    send(std::move(res));
    return;
  }
  if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    // Not HTTP, or not well-formed: the client hears why before the connection closes.
    send(error_response(11, false, error_code::invalid_request,
                        "malformed HTTP request: " + ec.message()));
    return;
  }
  if (ec) {
    // end_of_stream, timeouts and resets: the client is gone or idle too long.
    close();
    return;
  }
  handle(parser_->release());
}

// The key a request shows becomes the connection's: counted against that key's connections
// (a connection shows one key at a time). False: the key has no connection to spare.
bool http_connection::show_key(const key_account* key) {
  if (key == nullptr || key == who_.key) return true;
  auto ticket = ctx_->access.bind_connection(*key);
  if (!ticket) return false;
  who_.key = key;
  who_.key_ticket = std::move(ticket);
  return true;
}

void http_connection::handle(http_request req) {
  version_ = req.version();
  const key_account* key = ctx_->access.authenticate(credential_of(req));
  api_context actx{ctx_->service, ctx_->options, ctx_->metrics_text, &ctx_->access, key};
  auto action = dispatch(req, actx);
  cors_ = cors_headers(req, ctx_->options);
  using k = api_action::kind;
  // While the server drains, connections close after their response; except a long poll's:
  // its session may still run, and the client's next poll would need a new connection, which
  // is refused by then, so it would never hear how its stream ended.
  bool long_poll = action.what == k::session_events && !action.sse;
  keep_alive_ = req.keep_alive() && (!ctx_->stopping.load() || long_poll);
  if (over_limit_) {
    log::warn("limit_refusal", {{"limit", "max_connections"}});
    if (action.what == k::websocket) {
      hand_over_websocket(req, true, {});
      return;
    }
    send(error_response(version_, false, error_code::too_many_connections,
                        "the server has reached its connection limit; retry shortly"));
    return;
  }
  if (!show_key(key)) {
    if (action.what == k::websocket) {
      action.ws_close = static_cast<std::uint16_t>(ws::close_code::connection_limit);
      action.ws_reason = std::string{error_code::connection_limit};
    } else {
      keep_alive_ = false;
      send(error_response(version_, false, error_code::connection_limit,
                          "this key has no connection to spare; close one and retry", 1));
      return;
    }
  }
  switch (action.what) {
    case k::respond:
      action.response.keep_alive(keep_alive_ && action.response.keep_alive());
      send(std::move(action.response));
      return;
    case k::chat_stream:
    case k::chat_complete:
      start_chat(action);
      return;
    case k::session_create: {
      auto model = action.request.model;
      action.request.io_loop = loop_;
      auto out = ctx_->access.start(*who_.key, who_.from, std::move(action.request),
                                    {nullptr, "poll", false, nullptr});
      if (!out.ok()) {
        send(error_response(version_, keep_alive_, out.error_code, out.message, out.retry_after_s));
        return;
      }
      auto res = json_response(version_, keep_alive_, http::status::created,
                               json{{"session", out.session_id}, {"model", model}}.dump());
      res.set("X-Streamgate-Session", out.session_id);
      send(std::move(res));
      return;
    }
    case k::session_cancel: {
      if (!ctx_->access.cancel(*who_.key, action.session_id)) {
        send(error_response(version_, keep_alive_, error_code::session_not_found,
                            "no such session (it may have expired)"));
        return;
      }
      send(json_response(version_, keep_alive_, http::status::ok,
                         json{{"session", action.session_id}, {"cancelled", true}}.dump()));
      return;
    }
    case k::session_events:
      resume_events(action);
      return;
    case k::admin_status:
    case k::admin_crash:
    case k::admin_drop:
      admin(action);
      return;
    case k::websocket:
      hand_over_websocket(req, false, {action.ws_close, std::move(action.ws_reason)});
      return;
  }
}

// The WebSocket transport takes the socket over, with whatever the client sent after its
// upgrade request; this object is done with it.
void http_connection::hand_over_websocket(const http_request& upgrade, bool over_limit,
                                          ws_refusal refusal) {
  phase_ = phase::gone;
  auto early = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  start_websocket(stream_.release_socket(), upgrade, std::move(early), ctx_, over_limit,
                  std::move(who_), std::move(refusal));
}

void http_connection::admin(const api_action& action) {
  if (!ctx_->admin) {
    send(error_response(version_, keep_alive_, error_code::not_found, "admin is disabled"));
    return;
  }
  // The answer comes from an actor thread; hop back onto this connection's strand.
  auto reply = [self = shared_from_this()](http::status status, std::string body) {
    self->post_guarded([status, body = std::move(body)](http_connection& c) mutable {
      c.send(json_response(c.version_, c.keep_alive_, status, std::move(body)));
    });
  };
  if (action.what == api_action::kind::admin_drop) {
    // Like a network failure: the sockets close without a goodbye; sessions stay resumable.
    auto n =
        ctx_->drop_clients ? ctx_->drop_clients() : ctx_->close_all(server_context::farewell::drop);
    log::info("admin_drop", {{"connections", n}});
    send(json_response(version_, keep_alive_, http::status::ok, json{{"dropped", n}}.dump()));
    return;
  }
  if (action.what == api_action::kind::admin_status) {
    ctx_->admin->provider_status([reply](std::string providers) {
      reply(http::status::ok, "{\"providers\":" + providers + "}");
    });
    return;
  }
  static const char* const kinds[] = {"provider", "router", "pool"};
  const char* kind = kinds[static_cast<int>(action.crash)];
  auto name = action.crash == crash_target::router ? std::string{"router"} : action.session_id;
  ctx_->admin->crash(action.crash, name, [reply, kind, name](bool ok) {
    if (ok)
      reply(http::status::accepted, json{{kind, name}, {"crashed", true}}.dump());
    else
      reply(http::status::not_found,
            openai::error_body(error_code::not_found,
                               std::string{"no running "} + kind + " '" + excerpt(name) + "'"));
  });
}

void http_connection::send(http_response res) {
  if (!cors_.empty()) add_cors_headers(res, cors_);
  response_ = std::make_shared<http_response>(std::move(res));
  bool keep = response_->keep_alive();
  stream_.expires_after(std::chrono::seconds(30));
  http::async_write(stream_, *response_,
                    [self = shared_from_this(), keep](beast::error_code ec, std::size_t) {
                      self->on_sent(keep, ec);
                    });
}

void http_connection::on_sent(bool keep_alive, beast::error_code ec) {
  auto lk = guard();
  response_.reset();
  if (ec || !keep_alive) {
    close();
    return;
  }
  resume_reading();
}

void http_connection::resume_reading() {
  // The next request's read is started here and only here, once the response is sent: with
  // several I/O threads the peer watch may complete (the client already sent its next
  // request) before this write's handler runs, and a read started there as well would put
  // two reads, or a read and a new response, on the connection at once. A pending watch is
  // cancelled and starts the read when it completes, so only one read is ever outstanding.
  if (watch_ != watch::off) {
    watch_ = watch::on_then_read;
    beast::error_code ec;
    stream_.socket().cancel(ec);
    return;
  }
  do_read();
}

void http_connection::close() {
  if (gone()) return;
  phase_ = phase::gone;
  timer_.cancel();
  if (sink_ && !body_.done() && !body_.session().empty())
    ctx_->access.detach(body_.session(), sink_);
  sink_.reset();
  leave_stream();
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

}  // namespace streamgate
