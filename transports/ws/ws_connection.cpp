#include "transports/ws/ws_connection.hpp"

#include "actors/error_code.hpp"
#include "telemetry/log.hpp"
#include "transports/connection/connection_sink.hpp"
#include "transports/ws/ws_protocol.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>

namespace streamgate {

namespace net = boost::asio;
using sys_error = boost::system::error_code;

void start_websocket(net::ip::tcp::socket&& socket, const http_request& upgrade, std::string early,
                     std::shared_ptr<server_context> ctx, bool over_limit, client_identity who,
                     ws_refusal refusal) {
  std::make_shared<ws_connection>(std::move(socket), std::move(ctx), over_limit)
      ->run(upgrade, std::move(early), std::move(who), std::move(refusal));
}

namespace {

// The subprotocol the handshake names: "streamgate" when the client offers it. A browser
// that sends its key as a `bearer.KEY` subprotocol must offer "streamgate" too, since the
// answer must name one it offered, and echoing the key back is not an option.
bool offers_streamgate(std::string_view protocols) {
  return !find_item(protocols, [](std::string_view p) { return p == "streamgate"; }).empty();
}

}  // namespace

ws_connection::ws_connection(net::ip::tcp::socket&& socket, std::shared_ptr<server_context> ctx,
                             bool over_limit)
    : guarded_connection(socket.get_executor()),
      socket_(std::move(socket)),
      parser_(ctx->options.ws_max_message_bytes),
      ctx_(std::move(ctx)),
      loop_(ctx_->loop_of(&net::query(socket_.get_executor(), net::execution::context))),
      over_limit_(over_limit),
      heartbeat_(socket_.get_executor()),
      ping_(socket_.get_executor()) {
  set_write_timeout(ctx_->options.write_timeout);
  sys_error ec;
  socket_.non_blocking(true, ec);  // sends never wait, on the strand or off it
  (over_limit_ ? ctx_->refusing : ctx_->connections).fetch_add(1, std::memory_order_relaxed);
  if (!over_limit_) ctx_->websocket_opened();
}

ws_connection::~ws_connection() {
  release();
  if (!over_limit_) ctx_->websocket_closed();
  (over_limit_ ? ctx_->refusing : ctx_->connections).fetch_sub(1, std::memory_order_relaxed);
}

// Runs on the strand: http_connection hands the socket over from its read handler.
void ws_connection::run(const http_request& upgrade, std::string early, client_identity who,
                        ws_refusal refusal) {
  auto lk = guard();
  who_ = std::move(who);
  pending_ =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      ws::accept_key(upgrade[http::field::sec_websocket_key]) + "\r\nServer: streamgate\r\n";
  if (offers_streamgate(upgrade[http::field::sec_websocket_protocol]))
    pending_ += "Sec-WebSocket-Protocol: streamgate\r\n";
  pending_ += "\r\n";
  if (refusal.code != 0) {
    close_with(static_cast<ws::close_code>(refusal.code), refusal.reason.c_str());
    do_read();
    return;
  }
  if (over_limit_ || ctx_->stopping.load()) {
    // 1013 "try again later", which a browser's WebSocket shows (an HTTP 503 it hides).
    close_with(ws::close_code::try_again_later,
               over_limit_ ? "too many connections" : "server is shutting down");
    do_read();
    return;
  }
  ctx_->add_closable(
      this, [weak = weak_from_this(), ex = socket_.get_executor()](server_context::farewell how) {
        net::post(ex, [weak, how] {
          auto self = weak.lock();
          if (!self) return;
          auto lk = self->guard();
          if (how == server_context::farewell::drop)
            self->drop("admin_drop");
          else
            self->close_with(ws::close_code::going_away, "server is shutting down");
        });
      });
  flush();
  arm_heartbeat();
  arm_ping();
  do_read();
  // After the timers: early bytes may close the connection, and its close bound is ping_.
  if (!early.empty()) on_bytes(early.data(), early.size());
}

void ws_connection::do_read() {
  if (gone()) return;
  socket_.async_wait(net::socket_base::wait_read,
                     [self = shared_from_this()](sys_error ec) { self->on_readable(ec); });
}

void ws_connection::on_readable(sys_error ec) {
  auto lk = guard();
  if (gone()) return;
  if (ec) {
    drop(nullptr);
    return;
  }
  // Commands are small: one read usually holds all that arrived. One buffer per wake-up,
  // then the wait is armed again: a client that sends without pause (a ping flood) gets its
  // turn like every other connection on this I/O thread instead of holding the thread.
  char buf[16384];
  auto n = socket_.receive(net::buffer(buf), 0, ec);
  if (ec != net::error::would_block) {  // would_block: a stale readiness, nothing there
    if (ec || n == 0) {
      drop(nullptr);  // the peer went away (a close frame would have come first otherwise)
      return;
    }
    on_bytes(buf, n);
  }
  do_read();
}

void ws_connection::on_bytes(const char* data, std::size_t size) {
  liveness_ = liveness::heard;
  if (phase_ == phase::echoing) return;  // nothing may follow a close frame
  parser_.feed(data, size);
  while (auto m = parser_.next()) {
    on_message(*m);
    if (gone()) return;
  }
  auto& bad = parser_.failure();
  if (bad && phase_ == phase::open) {
    log::info(
        "client_dropped",
        {{"transport", "ws"},
         {"reason", bad->code == ws::close_code::too_big ? "message_too_big" : "protocol_error"},
         {"detail", bad->reason}});
    close_with(bad->code, bad->reason);
  }
}

void ws_connection::on_message(ws::client_message& m) {
  switch (m.what) {
    case ws::opcode::text:
      if (phase_ == phase::open) handle(ws::parse_command(m.payload));
      return;
    case ws::opcode::binary:
      send(ws::error({}, error_code::invalid_request,
                     "binary frames are not supported: send JSON text frames"));
      return;
    case ws::opcode::ping:
      if (phase_ == phase::open) queue_frame(ws::opcode::pong, m.payload);
      return;
    case ws::opcode::close:
      // The client's streams stay resumable, as after a network drop. Our echo is the last
      // frame; the server then closes the TCP connection (RFC 6455 section 7.1.1).
      if (phase_ == phase::closing) {
        drop(nullptr);  // it answered ours
        return;
      }
      close_with(m.code == 1005 ? ws::close_code::normal : static_cast<ws::close_code>(m.code), "",
                 phase::echoing);
      return;
    default:  // a pong: hearing it was the point
      return;
  }
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
  if (streams_.contains(id)) {
    send(ws::error(id, error_code::duplicate_stream,
                   "stream id '" + id + "' is already in use on this socket"));
    return false;
  }
  auto limit = ctx_->access.streams_per_socket(*who_.key, ctx_->options.ws_max_streams);
  if (streams_.size() >= limit) {
    log::warn("limit_refusal", {{"limit", "ws_max_streams"}, {"transport", "ws"}});
    send(ws::error(id, error_code::too_many_streams,
                   "at most " + std::to_string(limit) + " concurrent streams per socket"));
    return false;
  }
  return true;
}

std::shared_ptr<ws_connection::sink_type> ws_connection::new_sink(bool replay) {
  return std::make_shared<sink_type>(weak_from_this(), ctx_->gate, ctx_->options.max_pending_bytes,
                                     "ws", replay);
}

// Attaches stream `id` to its session after `after`, through a new sink: whatever the
// previous one still has on its way to the strand is then recognisably stale.
bool ws_connection::attach_stream(const std::string& id, std::uint64_t after) {
  auto& s = streams_.feed_from(id, new_sink(true)).second;
  s.feed.replay();
  return ctx_->access.attach(*who_.key, s.session, after, s.sink);
}

// A replay fills at most half of the client's budget, leaving the rest for live frames; it
// goes on once the client has read (continue_replays).
void ws_connection::pause_replay(stream& s, std::uint64_t after) {
  if (!s.feed.pause(after)) return;
  ctx_->access.detach(s.session, s.sink);  // the log may have finished and attached it
}

void ws_connection::continue_replays() {
  if (phase_ != phase::open || unsent() > ctx_->options.max_pending_bytes / 4) return;
  std::vector<std::string> ended;
  for (auto& [id, s] : streams_) {
    if (s.feed.paused() && !attach_stream(id, s.feed.paused_after())) ended.push_back(id);
  }
  for (auto& id : ended) {
    end_stream(id);
    send(ws::error(id, error_code::session_not_found, "the session has expired"));
  }
}

void ws_connection::end_stream(const std::string& id) {
  if (streams_.erase(id)) ctx_->streams.fetch_sub(1, std::memory_order_relaxed);
}

void ws_connection::start(ws::command& cmd) {
  if (!admit(cmd.id)) return;
  auto model = cmd.request.model;
  cmd.request.io_loop = loop_;
  // The stream is registered before the session exists; its events wait for the guard, so
  // they follow this handler, and the `started` frame it sends.
  auto sink = new_sink(false);
  streams_.add(cmd.id, {}, sink);
  ctx_->streams.fetch_add(1, std::memory_order_relaxed);
  // No cancel on detach: a dropped socket leaves the session running for a resume.
  auto out = ctx_->access.start(*who_.key, who_.from, std::move(cmd.request),
                                {sink, "ws", false, nullptr});
  if (!out.ok()) {
    end_stream(cmd.id);
    send(ws::error(cmd.id, out.error_code, out.message));
    return;
  }
  streams_.find(cmd.id)->session = out.session_id;
  send(ws::started(cmd.id, out.session_id, model, false, 0));
}

void ws_connection::resume(ws::command& cmd) {
  if (!admit(cmd.id)) return;
  streams_.add(cmd.id, cmd.session, nullptr);
  ctx_->streams.fetch_add(1, std::memory_order_relaxed);
  if (!attach_stream(cmd.id, cmd.after)) {
    end_stream(cmd.id);
    send(ws::error(cmd.id, error_code::session_not_found, "no such session (it may have expired)"));
    return;
  }
  send(ws::started(cmd.id, cmd.session, {}, true, cmd.after));
}

void ws_connection::cancel(const std::string& id) {
  auto* s = streams_.find(id);
  if (!s) {
    send(ws::error(id, error_code::stream_not_found, "no stream '" + id + "' on this socket"));
    return;
  }
  // Acknowledged by the session's `cancelled` event once the upstream is stopped.
  if (!ctx_->access.cancel(*who_.key, s->session)) {
    end_stream(id);
    send(ws::error(id, error_code::session_not_found, "the session has expired"));
  }
}

inline_delivery ws_connection::deliver_now(const event_sink* from, const event_ptr& ev) {
  // A terminal event ends the stream (its id is free again): strand work.
  if (ev->terminal()) return inline_delivery::busy;
  auto lk = try_guard();
  if (!lk) return inline_delivery::busy;
  auto* found = streams_.of(from);  // none once released (a close releases first)
  if (!found || found->second.feed.paused()) return inline_delivery::busy;  // on_event drops it
  if (ev->kind == event_kind::heartbeat) return inline_delivery::written;  // the socket has its own
  scratch_.clear();  // kept for its capacity: a token's text costs no allocation
  ws::append_event(scratch_, found->first, *ev);
  ws::append_frame(pending_, ws::opcode::text, scratch_);
  if (scratch_.capacity() > 64 * 1024) std::string{}.swap(scratch_);  // after a huge one
  if (over_pending_limit()) return inline_delivery::too_slow;
  flush(false);
  return inline_delivery::written;
}

void ws_connection::on_event(const event_sink* from, const event_ptr& ev) {
  auto lk = guard();
  auto* found = streams_.of(from);
  if (!found || ev->kind == event_kind::heartbeat) return;
  auto id = found->first;
  auto& s = found->second;
  if (s.feed.paused()) return;  // the next attach brings it again
  ws::append_frame(pending_, ws::opcode::text, ws::event(id, *ev));
  if (ev->terminal()) {
    end_stream(id);  // the session forgets its sinks once it ended: the id is free again
  } else if (s.feed.replaying() && unsent() > ctx_->options.max_pending_bytes / 2) {
    pause_replay(s, ev->seq);
  }
  if (within_budget()) flush();
}

void ws_connection::on_replay_paused(const event_sink* from, std::uint64_t last_seq) {
  auto lk = guard();
  auto* found = streams_.of(from);
  if (!found) return;
  // Every event up to last_seq reached the strand before this: go on once they are read.
  pause_replay(found->second, last_seq);
  flush();
}

void ws_connection::on_attached(const event_sink* from, std::uint64_t last_seq, bool ended) {
  auto lk = guard();
  auto* found = streams_.of(from);
  if (!found || found->second.feed.paused()) return;
  found->second.feed.go_live();
  if (!ended) return;
  // Ended, and the terminal event was not after the resume point: nothing will follow.
  auto id = found->first;
  end_stream(id);
  send(ws::error(id, error_code::session_ended,
                 "the stream ended at seq " + std::to_string(last_seq) + "; nothing follows"));
}

void ws_connection::on_detached(const event_sink* from, detach_reason why) {
  auto lk = guard();
  auto* found = streams_.of(from);
  if (!found) return;
  if (why == detach_reason::slow_consumer) {
    ctx_->count_drop("ws", server_context::drop_reason::slow_consumer);
    drop("slow_consumer");
    return;
  }
  auto id = found->first;
  end_stream(id);
  if (why == detach_reason::cursor_ahead) {
    send(ws::error(id, error_code::invalid_request,
                   "'after' is beyond the session's last event: resume after a seq you received"));
    return;
  }
  send(ws::error(id, error_code::session_not_found, "the session let go of this stream"));
}

// A text frame from the strand.
void ws_connection::send(const std::string& message) {
  if (phase_ != phase::open) return;  // a close releases the streams first
  queue_frame(ws::opcode::text, message);
}

// Every frame queued on the strand (messages, pongs, pings) comes through here or through
// within_budget: one budget for all the bytes a client has not read.
void ws_connection::queue_frame(ws::opcode op, std::string_view payload) {
  ws::append_frame(pending_, op, payload);
  if (within_budget()) flush();
}

bool ws_connection::within_budget() {
  if (!over_pending_limit()) return true;
  // The client does not read: bounded buffering, then the socket goes. Its sessions stay
  // resumable for the resume window.
  ctx_->count_drop("ws", server_context::drop_reason::slow_consumer);
  drop("slow_consumer");
  return false;
}

// The client has more framed bytes unread than it may: everything counts, replays, pongs
// and close frames included (a replay stays within half of it on its own: pause_replay).
bool ws_connection::over_pending_limit() const {
  return ctx_->over_budget(unsent());
}

// Writes what the socket takes at once: usually everything, with one send and no completion
// to run (guarded_connection). Off the strand nothing closes: deliver_now never queues a
// close frame.
void ws_connection::flush(bool on_strand) {
  if (gone() || !send_pending(pending_, on_strand) || !on_strand) return;
  continue_replays();
  if (writing()) return;
  if (phase_ == phase::echoing) {
    drop(nullptr);  // our echo of the client's close is out
  } else if (phase_ == phase::closing) {
    // Our close is out: the client answers with its own, then we close (on_message), or the
    // bound armed in close_with runs out.
    sys_error ignored;
    socket_.shutdown(net::socket_base::shutdown_send, ignored);
  }
}

void ws_connection::on_write_timeout() {
  ctx_->count_drop("ws", server_context::drop_reason::write_timeout);
  log::info("client_dropped", {{"transport", "ws"}, {"reason", "write_timeout"}});
}

void ws_connection::close_with(ws::close_code code, const char* reason, phase next) {
  if (phase_ != phase::open) return;
  release();
  phase_ = next;
  ws::append_close(pending_, code, reason);
  if (!within_budget()) return;
  // A client that never answers the close is let go after a while: 5 s, or sooner when a
  // silent peer counts as gone sooner (ws_ping_timeout).
  auto bound = std::chrono::milliseconds(5000);
  if (ctx_->options.ws_ping_timeout.count() > 0)
    bound = std::min(bound, ctx_->options.ws_ping_timeout);
  ping_.expires_after(bound);
  ping_.async_wait([self = shared_from_this()](sys_error ec) {
    auto lk = self->guard();
    if (!ec) self->drop(nullptr);
  });
  flush();
}

void ws_connection::drop(const char* reason) {
  if (gone()) return;
  if (reason) log::info("client_dropped", {{"transport", "ws"}, {"reason", reason}});
  release();
  phase_ = phase::closed;
  ping_.cancel();
  cancel_write_deadline();
  sys_error ec;
  socket_.close(ec);
}

// Lets go of every stream (their sessions stay resumable) and of the server's registry: the
// connection is closing. Safe to repeat.
void ws_connection::release() {
  heartbeat_.cancel();
  ctx_->remove_closable(this);
  auto all = streams_.take_all();
  for (auto& [id, s] : all) {
    if (!s.session.empty()) ctx_->access.detach(s.session, s.sink);
  }
  ctx_->streams.fetch_sub(static_cast<std::int64_t>(all.size()), std::memory_order_relaxed);
}

void ws_connection::arm_heartbeat() {
  if (ctx_->options.ws_heartbeat.count() <= 0) return;
  heartbeat_.expires_after(ctx_->options.ws_heartbeat);
  heartbeat_.async_wait([self = shared_from_this()](sys_error ec) {
    auto lk = self->guard();
    if (ec || self->phase_ != phase::open) return;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    self->send(ws::heartbeat(now));
    self->arm_heartbeat();
  });
}

// A peer that sends nothing for half of ws_ping_timeout gets a protocol ping; one still
// silent half a timeout later is gone (it would have answered), and is dropped. A live,
// idle client answers every ping and stays.
void ws_connection::arm_ping() {
  if (ctx_->options.ws_ping_timeout.count() <= 0) return;
  ping_.expires_after(ctx_->options.ws_ping_timeout / 2);
  ping_.async_wait([self = shared_from_this()](sys_error ec) {
    auto lk = self->guard();
    auto& c = *self;
    if (ec || c.phase_ != phase::open) return;
    if (c.liveness_ == liveness::heard) {
      c.liveness_ = liveness::silent;
    } else if (c.liveness_ == liveness::silent) {
      c.liveness_ = liveness::pinged;
      c.queue_frame(ws::opcode::ping, {});
      if (c.gone()) return;
    } else {
      c.ctx_->count_drop("ws", server_context::drop_reason::ping_timeout);
      c.drop("ping_timeout");
      return;
    }
    c.arm_ping();
  });
}

}  // namespace streamgate
