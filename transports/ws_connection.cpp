#include "transports/ws_connection.hpp"

#include "actors/error_code.hpp"
#include "telemetry/log.hpp"
#include "transports/connection_sink.hpp"
#include "transports/ws_protocol.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/error.hpp>

#include <chrono>

namespace streamgate {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;

void start_websocket(beast::tcp_stream&& stream, http_request&& upgrade,
                     std::shared_ptr<server_context> ctx, bool over_limit) {
  std::make_shared<ws_connection>(std::move(stream), std::move(ctx), over_limit)
      ->run(std::move(upgrade));
}

ws_connection::ws_connection(beast::tcp_stream&& stream, std::shared_ptr<server_context> ctx,
                             bool over_limit)
    : ws_(std::move(stream)),
      ctx_(std::move(ctx)),
      over_limit_(over_limit),
      heartbeat_(ws_.get_executor()) {
  (over_limit_ ? ctx_->refusing : ctx_->connections).fetch_add(1, std::memory_order_relaxed);
}

ws_connection::~ws_connection() {
  release();
  (over_limit_ ? ctx_->refusing : ctx_->connections).fetch_sub(1, std::memory_order_relaxed);
}

void ws_connection::run(http_request upgrade) {
  // Beast's own timers replace the TCP stream's: a handshake bound, and an idle bound with
  // protocol pings at half of it, so a live peer (which answers pings) is never dropped and
  // a dead one is dropped after ws_ping_timeout.
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout t;
  t.handshake_timeout = std::chrono::seconds(10);
  t.idle_timeout = ctx_->options.ws_ping_timeout.count() > 0
                       ? std::chrono::duration_cast<websocket::stream_base::duration>(
                             ctx_->options.ws_ping_timeout)
                       : websocket::stream_base::none();
  t.keep_alive_pings = true;
  ws_.set_option(t);
  ws_.read_message_max(ctx_->options.ws_max_message_bytes);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "streamgate"); }));
  auto req = std::make_shared<http_request>(std::move(upgrade));
  ws_.async_accept(*req,
                   [self = shared_from_this(), req](beast::error_code ec) { self->on_accept(ec); });
}

void ws_connection::on_accept(beast::error_code ec) {
  if (ec) {
    drop("handshake_failed");
    return;
  }
  if (over_limit_ || ctx_->stopping.load()) {
    // 1013 "try again later", which a browser's WebSocket shows (an HTTP 503 it hides).
    close_with(websocket::close_code::try_again_later,
               over_limit_ ? "too many connections" : "server is shutting down");
    do_read();
    return;
  }
  ctx_->add_droppable(this, [weak = weak_from_this(), ex = ws_.get_executor()] {
    net::post(ex, [weak] {
      if (auto self = weak.lock()) self->drop("admin_drop");
    });
  });
  do_read();
  arm_heartbeat();
}

void ws_connection::do_read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->on_read(ec, n);
  });
}

void ws_connection::on_read(beast::error_code ec, std::size_t) {
  if (released_) return;
  if (ec) {
    failed(ec);
    return;
  }
  if (!ws_.got_text()) {
    buffer_.consume(buffer_.size());
    send(ws::error({}, error_code::invalid_request,
                   "binary frames are not supported: send JSON text frames"));
  } else {
    auto text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    handle(ws::parse_command(text));
  }
  if (!released_) do_read();
}

void ws_connection::handle(ws::command cmd) {
  using k = ws::command::kind;
  switch (cmd.what) {
    case k::invalid:
      send(ws::error(cmd.id, cmd.error_code, cmd.error_message));
      return;
    case k::ping:
      send(ws::pong(cmd.data));
      return;
    case k::start:
      start(cmd);
      return;
    case k::resume:
      resume(cmd);
      return;
    case k::cancel:
      cancel(cmd.id);
      return;
  }
}

bool ws_connection::admit(const std::string& id) {
  if (streams_.count(id)) {
    send(ws::error(id, error_code::duplicate_stream,
                   "stream id '" + id + "' is already in use on this socket"));
    return false;
  }
  if (streams_.size() >= ctx_->options.ws_max_streams) {
    log::warn("limit_refusal", {{"limit", "ws_max_streams"}, {"transport", "ws"}});
    send(ws::error(id, error_code::too_many_streams,
                   "at most " + std::to_string(ctx_->options.ws_max_streams) +
                       " concurrent streams per socket"));
    return false;
  }
  return true;
}

std::shared_ptr<ws_connection::sink_type> ws_connection::add_stream(const std::string& id,
                                                                    const std::string& session) {
  bool replay = !session.empty();
  auto sink = std::make_shared<sink_type>(weak_from_this(), ctx_->gate,
                                          ctx_->options.max_pending_bytes, "ws", replay);
  streams_[id] = {session, sink, replay};
  ctx_->streams.fetch_add(1, std::memory_order_relaxed);
  return sink;
}

void ws_connection::end_stream(const std::string& id) {
  if (streams_.erase(id)) ctx_->streams.fetch_sub(1, std::memory_order_relaxed);
}

void ws_connection::start(ws::command& cmd) {
  if (!admit(cmd.id)) return;
  auto model = cmd.request.model;
  // The stream is registered before the session exists: its first events are posted to
  // this strand and so run after this handler, when the stream knows its session id.
  auto sink = add_stream(cmd.id, {});
  // No cancel on detach: a dropped socket leaves the session running for a resume.
  auto out = ctx_->service.start(std::move(cmd.request), sink, "ws", false);
  if (!out.ok()) {
    end_stream(cmd.id);
    send(ws::error(cmd.id, out.error_code, out.message));
    return;
  }
  streams_[cmd.id].session = out.session_id;
  send(ws::started(cmd.id, out.session_id, model, false, 0));
}

void ws_connection::resume(ws::command& cmd) {
  if (!admit(cmd.id)) return;
  auto sink = add_stream(cmd.id, cmd.session);
  if (!ctx_->service.attach(cmd.session, cmd.after, sink)) {
    end_stream(cmd.id);
    send(ws::error(cmd.id, error_code::session_not_found, "no such session (it may have expired)"));
    return;
  }
  send(ws::started(cmd.id, cmd.session, {}, true, cmd.after));
}

void ws_connection::cancel(const std::string& id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) {
    send(ws::error(id, error_code::stream_not_found, "no stream '" + id + "' on this socket"));
    return;
  }
  // Acknowledged by the session's `cancelled` event once the upstream is stopped.
  if (!ctx_->service.cancel(it->second.session)) {
    end_stream(id);
    send(ws::error(id, error_code::session_not_found, "the session has expired"));
  }
}

const std::string* ws_connection::stream_of(const event_sink* sink) const {
  for (auto& [id, s] : streams_) {
    if (s.sink.get() == sink) return &id;
  }
  return nullptr;
}

void ws_connection::on_event(const event_sink* from, const event_ptr& ev) {
  auto* found = released_ ? nullptr : stream_of(from);
  if (!found || ev->kind == event_kind::heartbeat) return;
  auto id = *found;
  send(ws::event(id, *ev));
  // The session forgets its sinks once it ended: the id is free again.
  if (ev->terminal()) end_stream(id);
}

void ws_connection::on_attached(const event_sink* from, std::uint64_t last_seq, bool ended) {
  auto* found = released_ ? nullptr : stream_of(from);
  if (!found) return;
  streams_[*found].replaying = false;
  if (!ended) return;
  // Ended, and the terminal event was not after the resume point: nothing will follow.
  auto id = *found;
  end_stream(id);
  send(ws::error(id, error_code::session_ended,
                 "the stream ended at seq " + std::to_string(last_seq) + "; nothing follows"));
}

void ws_connection::on_detached(const event_sink* from, detach_reason why) {
  auto* found = released_ ? nullptr : stream_of(from);
  if (!found) return;
  if (why == detach_reason::slow_consumer) {
    ctx_->count_drop("ws", server_context::drop_reason::slow_consumer);
    drop("slow_consumer");
    return;
  }
  auto id = *found;
  end_stream(id);
  send(ws::error(id, error_code::session_not_found, "the session let go of this stream"));
}

void ws_connection::send(std::string frame) {
  if (released_ || closing_) return;
  out_bytes_ += frame.size();
  // Streams are scanned for a running replay only past the bound, not on every frame.
  auto replaying = [this] {
    for (auto& entry : streams_)
      if (entry.second.replaying) return true;
    return false;
  };
  if (out_bytes_ > ctx_->options.max_pending_bytes && !replaying()) {
    // The client does not read: bounded buffering, then the socket goes. Its sessions stay
    // resumable for the resume window.
    ctx_->count_drop("ws", server_context::drop_reason::slow_consumer);
    drop("slow_consumer");
    return;
  }
  out_.push_back(std::move(frame));
  do_write();
}

void ws_connection::do_write() {
  if (writing_ || released_) return;
  if (out_.empty()) {
    if (!closing_) return;
    writing_ = true;
    ws_.async_close(close_reason_, [self = shared_from_this()](beast::error_code) {
      self->writing_ = false;
      self->drop(nullptr);
    });
    return;
  }
  writing_ = true;
  ws_.text(true);
  ws_.async_write(
      net::buffer(out_.front()),
      [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_write(ec, n); });
}

void ws_connection::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (released_) return;
  if (ec) {
    failed(ec);
    return;
  }
  out_bytes_ -= out_.front().size();
  out_.pop_front();
  do_write();
}

void ws_connection::failed(beast::error_code ec) {
  // Beast's idle timer ends whichever operation is pending, the read or a write.
  if (ec == beast::error::timeout) {
    ctx_->count_drop("ws", server_context::drop_reason::ping_timeout);
    drop("ping_timeout");
  } else if (ec == websocket::error::message_too_big) {
    drop("message_too_big");  // Beast has sent close 1009 already
  } else {
    drop(nullptr);  // the peer closed or went away
  }
}

void ws_connection::close_with(websocket::close_code code, const char* reason) {
  if (released_ || closing_) return;
  closing_ = true;
  close_reason_ = websocket::close_reason{code, reason};
  do_write();
}

void ws_connection::drop(const char* reason) {
  if (released_) return;
  if (reason) log::info("client_dropped", {{"transport", "ws"}, {"reason", reason}});
  release();
  beast::error_code ec;
  beast::get_lowest_layer(ws_).socket().close(ec);
}

void ws_connection::release() {
  if (released_) return;
  released_ = true;
  heartbeat_.cancel();
  ctx_->remove_droppable(this);
  for (auto& [id, s] : streams_) {
    if (!s.session.empty()) ctx_->service.detach(s.session, s.sink);
  }
  ctx_->streams.fetch_sub(static_cast<std::int64_t>(streams_.size()), std::memory_order_relaxed);
  streams_.clear();
}

void ws_connection::arm_heartbeat() {
  if (ctx_->options.ws_heartbeat.count() <= 0) return;
  heartbeat_.expires_after(ctx_->options.ws_heartbeat);
  heartbeat_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->released_) return;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    self->send(ws::heartbeat(now));
    self->arm_heartbeat();
  });
}

}  // namespace streamgate
