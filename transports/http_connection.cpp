#include "transports/http_connection.hpp"

#include "actors/error_code.hpp"
#include "telemetry/log.hpp"
#include "transports/connection_sink.hpp"
#include "transports/openai_format.hpp"
#include "transports/ws_connection.hpp"

#include <boost/asio/dispatch.hpp>
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
    : stream_(std::move(socket)),
      ctx_(std::move(ctx)),
      timer_(stream_.get_executor()),
      over_limit_(over_limit),
      who_(std::move(who)) {
  // No synchronous call on a client socket may wait (asio's blocking mode would poll until
  // the peer sends): it would hold the connection's strand and an I/O thread.
  beast::error_code ec;
  stream_.socket().non_blocking(true, ec);
  (over_limit_ ? ctx_->refusing : ctx_->connections).fetch_add(1, std::memory_order_relaxed);
}

http_connection::~http_connection() {
  (over_limit_ ? ctx_->refusing : ctx_->connections).fetch_sub(1, std::memory_order_relaxed);
}

template <class Fn>
void http_connection::post_guarded(Fn fn) {
  net::post(stream_.get_executor(), [self = shared_from_this(), fn = std::move(fn)]() mutable {
    auto lk = self->guard();
    fn(*self);
  });
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
  if (first_request_ || buffer_.size() > 0) {
    read_request();
    return;
  }
  // A kept-alive connection may stay quiet up to the idle timeout; its next request's headers
  // are then due within header_timeout of their first byte.
  stream_.expires_after(ctx_->options.idle_timeout);
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                            auto lk = self->guard();
                            self->buffer_.commit(n);
                            if (ec || self->closed_) {
                              self->close();
                              return;
                            }
                            self->read_request();
                          });
}

void http_connection::read_request() {
  first_request_ = false;
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
  if (closed_) return;
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
  closed_ = true;
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
  if (watching_) {
    read_after_watch_ = true;
    beast::error_code ec;
    stream_.socket().cancel(ec);
    return;
  }
  do_read();
}

void http_connection::close() {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  if (sink_ && !body_.done() && !body_.session().empty())
    ctx_->access.detach(body_.session(), sink_);
  sink_.reset();
  leave_stream();
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

void http_connection::leave_stream() {
  if (body_.current() == kind::none) return;
  body_.stop();
  ctx_->streams.fetch_sub(1, std::memory_order_relaxed);
  ctx_->remove_closable(this);
}

void http_connection::begin(kind k, const std::string& session_id, std::string model,
                            bool include_usage, std::uint64_t after_seq) {
  leave_stream();
  body_.start(k, session_id, std::move(model), include_usage, version_, keep_alive_, after_seq);
  body_.extra_headers(cors_);
  keep_alive_ = body_.keep_alive();  // an HTTP/1.0 stream ends with the connection
  ctx_->streams.fetch_add(1, std::memory_order_relaxed);
  // Only an operator's drop needs a streaming HTTP connection in the registry: at the server's
  // stop it closes like any other (no goodbye frame to send), so without admin nothing is
  // registered, and a stream costs no lock for it.
  if (ctx_->admin)
    ctx_->add_closable(this, [weak = weak_from_this(), ex = stream_.get_executor()](auto) {
      net::post(ex, [weak] {
        if (auto self = weak.lock()) {
          auto lk = self->guard();
          self->close();
        }
      });
    });
  poll_attached_ = replaying_ = false;
  stream_.expires_never();  // streams are bounded by the session, not by the socket timer
}

void http_connection::start_chat(api_action& action) {
  bool streaming = action.what == api_action::kind::chat_stream;
  sink_ = std::make_shared<strand_sink<http_connection>>(
      weak_from_this(), ctx_->gate, ctx_->options.max_pending_bytes, streaming ? "sse" : "http");
  auto model = action.request.model;
  bool usage = action.request.include_usage;
  // Closing a /v1/chat/completions connection stops the answer, as it does at OpenAI.
  auto out = ctx_->access.start(*who_.key, who_.from, std::move(action.request),
                                {sink_, sink_->transport(), true, nullptr});
  if (!out.ok()) {
    sink_.reset();
    send(error_response(version_, keep_alive_, out.error_code, out.message, out.retry_after_s));
    return;
  }
  begin(streaming ? kind::sse : kind::collect, out.session_id, std::move(model), usage);
  watch_peer();
  if (streaming) arm_keepalive();
}

void http_connection::resume_events(api_action& action) {
  begin(action.sse ? kind::sse : kind::poll, action.session_id, "", action.sse, action.after_seq);
  if (!attach_after(action.after_seq)) {
    finish_with(session_not_found());
    return;
  }
  watch_peer();
  if (action.sse) {
    arm_keepalive();
  } else {
    timer_.expires_after(std::chrono::milliseconds(action.wait_ms));
  }
}

// Attaches the response to its session after `after`, through a new sink: whatever an
// earlier one still has on its way to the strand is then recognisably stale.
bool http_connection::attach_after(std::uint64_t after) {
  sink_ = std::make_shared<strand_sink<http_connection>>(
      weak_from_this(), ctx_->gate, ctx_->options.max_pending_bytes,
      body_.current() == kind::sse ? "sse" : "poll", true);
  replaying_ = true;
  paused_after_.reset();
  return ctx_->access.attach(*who_.key, body_.session(), after, sink_);
}

// A replay fills at most half of the client's budget, leaving room for keep-alives; it goes
// on once the client has read (continue_replay). A long poll's page simply ends there.
void http_connection::pause_replay(std::uint64_t after) {
  if (body_.current() == kind::poll) {
    finish_poll();  // the client asks again after the page's last_seq
    return;
  }
  if (paused_after_) return;
  paused_after_ = after;
  ctx_->access.detach(body_.session(), sink_);  // the log may have finished and attached it
}

void http_connection::continue_replay() {
  if (!paused_after_ || closed_ || unsent() > ctx_->options.max_pending_bytes / 4) return;
  if (attach_after(*paused_after_)) return;
  // The session expired meanwhile: the client resumes, and hears 404 then.
  log::info("client_dropped", {{"session", body_.session()}, {"reason", "session_expired"}});
  sink_.reset();
  close();
}

void http_connection::on_replay_paused(const event_sink* from, std::uint64_t last_seq) {
  auto lk = guard();
  if (from != sink_.get() || closed_ || body_.current() == kind::none) return;
  // Every event up to last_seq reached the strand before this: go on once they are read.
  pause_replay(last_seq);
  if (body_.current() == kind::sse) flush();
}

void http_connection::on_attached(const event_sink* from, std::uint64_t last_seq, bool ended) {
  auto lk = guard();
  if (from != sink_.get() || closed_ || paused_after_) return;
  replaying_ = false;
  if (body_.current() == kind::sse && ended && !body_.done()) {
    // Resumed after the terminal event: the client has every event. [DONE] says so to a
    // client that waits for it (one cut off between the finish chunk and [DONE] would
    // otherwise resume again and again).
    body_.end_done();
    timer_.cancel();
    flush();
    return;
  }
  if (body_.current() != kind::poll) return;
  // Every replayed event is on the strand before this: they all go into this response.
  poll_attached_ = true;
  body_.poll_replayed(ended);
  if (body_.poll_has_events() || ended || last_seq > body_.poll_last_seq()) {
    finish_poll();
    return;
  }
  // Nothing new yet: wait up to wait_ms (armed in resume_events) for the next event.
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    auto lk = self->guard();
    if (!ec && self->body_.current() == kind::poll) self->finish_poll();
  });
}

inline_delivery http_connection::deliver_now(const event_sink* from, const event_ptr& ev) {
  // A terminal event ends the response (timers, keep-alive, the next request): strand work.
  if (ev->terminal()) return inline_delivery::busy;
  std::unique_lock<std::mutex> lk(mu_, std::try_to_lock);
  if (!lk) return inline_delivery::busy;
  if (from != sink_.get() || closed_ || replaying_ || body_.current() != kind::sse || body_.done())
    return inline_delivery::busy;  // the strand decides what becomes of it
  body_.add(*ev);                  // a token or a heartbeat: rendered bytes, never a response
  if (over_pending_limit()) return inline_delivery::too_slow;
  flush(false);
  return inline_delivery::written;
}

void http_connection::on_event(const event_sink* from, const event_ptr& ev) {
  auto lk = guard();
  // A late event of an earlier request's sink belongs to a response already sent; one of a
  // paused replay comes again with the next attach.
  if (from != sink_.get() || closed_ || body_.done() || paused_after_) return;
  auto k = body_.current();
  if (auto whole = body_.add(*ev)) {
    finish_with(std::move(*whole));
    return;
  }
  bool half_full = replaying_ && (k == kind::sse ? unsent() : body_.poll_size()) >
                                     ctx_->options.max_pending_bytes / 2;
  if (k == kind::sse) {
    if (body_.done())
      timer_.cancel();  // no keep-alive after the last chunk
    else if (half_full)
      pause_replay(ev->seq);
    flush_sse();
  } else if (k == kind::poll && half_full && !body_.poll_ended()) {
    pause_replay(ev->seq);
  } else if (k == kind::poll && poll_attached_) {
    // A replayed event waits for on_attached; a live one is sent deferred, so events
    // already queued on the strand go out in the same response.
    post_guarded([](http_connection& c) {
      if (c.body_.current() == kind::poll) c.finish_poll();
    });
  }
}

void http_connection::on_detached(const event_sink* from, detach_reason why) {
  auto lk = guard();
  if (from != sink_.get() || closed_ || body_.current() == kind::none) return;
  if (why == detach_reason::cursor_ahead) {
    // Nothing was sent yet: the client hears why in a response of its own.
    finish_with(error_response(
        version_, keep_alive_, error_code::invalid_request,
        "'after' (or Last-Event-ID) is beyond the session's last event: resume after a seq "
        "you received"));
    return;
  }
  if (why == detach_reason::session_expired && !body_.started()) {
    // The session ended between the registry's answer and the attach: to the client that is
    // the same as not finding it.
    finish_with(session_not_found());
    return;
  }
  bool slow = why == detach_reason::slow_consumer;
  if (slow) ctx_->count_drop(from->transport(), server_context::drop_reason::slow_consumer);
  log::info("client_dropped",
            {{"session", body_.session()}, {"reason", slow ? "slow_consumer" : "detached"}});
  sink_.reset();
  close();
}

http_response http_connection::session_not_found() const {
  return error_response(version_, keep_alive_, error_code::session_not_found,
                        "no such session (it may have expired)");
}

// The event ended the exchange with a whole response: the stream is over, send it.
void http_connection::finish_with(http_response res) {
  leave_stream();
  sink_.reset();
  timer_.cancel();
  send(std::move(res));
}

void http_connection::finish_poll() {
  if (body_.current() != kind::poll) return;
  leave_stream();
  timer_.cancel();
  if (!body_.poll_ended()) ctx_->access.detach(body_.session(), sink_);
  sink_.reset();
  send(body_.poll_page());
}

// The client has more rendered bytes unread than it may (a replay stays within half of it on
// its own: pause_replay).
bool http_connection::over_pending_limit() const {
  return ctx_->over_budget(unsent());
}

// Hands rendered SSE bytes to the socket, unless the client stopped reading them.
void http_connection::flush_sse() {
  if (over_pending_limit()) {
    ctx_->count_drop("sse", server_context::drop_reason::slow_consumer);
    log::warn("client_dropped", {{"session", body_.session()}, {"reason", "slow_consumer"}});
    close();
    return;
  }
  flush();
}

// Writes what the socket takes at once: usually everything, with one send and no completion
// to run. The rest goes out with an async write, started on the strand. Off the strand
// (deliver_now) the response is never done, so there is no end to handle.
void http_connection::flush(bool on_strand) {
  if (closed_) return;
  switch (writer_.send(stream_.socket(), body_.pending_bytes())) {
    case socket_writer::outcome::failed:
      if (on_strand)
        close();
      else
        post_guarded([](http_connection& c) { c.close(); });
      return;
    case socket_writer::outcome::started:
      if (on_strand)
        write_in_flight();
      else
        post_guarded([](http_connection& c) { c.write_in_flight(); });
      return;
    case socket_writer::outcome::idle:
      break;
  }
  if (!on_strand) return;
  if (!writer_.writing() && body_.done() && body_.current() == kind::sse) {
    end_stream();
    return;
  }
  continue_replay();
}

void http_connection::write_in_flight() {
  if (closed_) return;
  // A client that takes none of a write for write_timeout is not reading at all: dropped
  // (on_flushed), so its socket does not outlive its session.
  if (ctx_->options.write_timeout.count() > 0) stream_.expires_after(ctx_->options.write_timeout);
  writer_.write_rest(stream_, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->on_flushed(ec, n);
  });
}

void http_connection::on_flushed(beast::error_code ec, std::size_t) {
  auto lk = guard();
  writer_.finished();
  if (ec == beast::error::timeout && !closed_) {
    ctx_->count_drop(body_.current() == kind::sse ? "sse" : "http",
                     server_context::drop_reason::write_timeout);
    log::warn("client_dropped", {{"session", body_.session()}, {"reason", "write_timeout"}});
  }
  if (ec) {
    close();
    return;
  }
  stream_.expires_never();  // streams are bounded by the session, not by the socket timer
  flush();
}

void http_connection::end_stream() {
  leave_stream();
  sink_.reset();
  if (!keep_alive_) {
    close();
    return;
  }
  resume_reading();
}

void http_connection::watch_peer() {
  // While a response streams the client sends nothing; a pending read tells us at once
  // when it goes away, so its session is detached (and its upstream cancelled) promptly.
  // The watch only looks: reading the next request is resume_reading's job.
  watching_ = true;
  stream_.socket().async_wait(
      net::ip::tcp::socket::wait_read,
      [self = shared_from_this()](beast::error_code ec) { self->on_peer_watched(ec); });
}

void http_connection::on_peer_watched(beast::error_code ec) {
  auto lk = guard();
  watching_ = false;
  if (closed_) return;
  if (ec && ec != net::error::operation_aborted) {
    close();
    return;
  }
  if (!ec) {
    // Readable: EOF (the peer closed), or bytes (its next or a pipelined request, or anything
    // a client sends mid-stream). Or nothing at all: the readiness can be stale (with several
    // I/O threads the reactor may report an edge whose bytes a read has already taken).
    switch (take_peer_bytes()) {
      case peer_bytes::gone:
        close();
        return;
      case peer_bytes::too_many:
        log::warn("client_dropped", {{"session", body_.session()}, {"reason", "too_much_input"}});
        close();
        return;
      case peer_bytes::taken:
        if (body_.current() != kind::none) {
          watch_peer();  // go on watching the stream's client
          return;
        }
        break;
    }
  }
  // A request waits in buffer_ or the socket until the response is sent and resume_reading
  // asks for it.
  if (read_after_watch_) {
    read_after_watch_ = false;
    do_read();
  }
}

// Moves what the client sent into buffer_, where the next request's parser finds it first:
// left in the socket, the bytes would keep it readable, and the watch would either spin or
// stop watching and miss the client's going. What one request may be is the bound.
http_connection::peer_bytes http_connection::take_peer_bytes() {
  auto limit = ctx_->options.max_header_bytes + ctx_->options.max_body_bytes;
  for (;;) {
    if (buffer_.size() >= limit) return peer_bytes::too_many;
    beast::error_code ec;
    auto n = stream_.socket().read_some(
        buffer_.prepare(std::min<std::size_t>(limit - buffer_.size(), 16 * 1024)), ec);
    buffer_.commit(n);
    if (ec == net::error::would_block || ec == net::error::try_again) return peer_bytes::taken;
    if (ec) return peer_bytes::gone;  // EOF or reset
  }
}

void http_connection::arm_keepalive() {
  timer_.expires_after(ctx_->options.sse_keepalive);
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    auto lk = self->guard();
    if (ec || self->body_.current() != kind::sse || self->closed_) return;
    self->body_.keepalive();
    self->flush_sse();
    self->arm_keepalive();
  });
}

}  // namespace streamgate
