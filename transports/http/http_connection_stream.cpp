#include "transports/http/http_connection.hpp"

#include "actors/error_code.hpp"
#include "telemetry/log.hpp"
#include "transports/connection/connection_sink.hpp"

#include <boost/beast/core/error.hpp>

#include <chrono>

// The streaming half of http_connection: SSE, long-poll and non-streamed (collected)
// responses fed by a session's sink, their replays, writes, keep-alives and the peer watch.
namespace streamgate {

namespace beast = boost::beast;
namespace net = boost::asio;

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
  feed_.go_live();
  stream_.expires_never();  // streams are bounded by the session, not by the socket timer
}

void http_connection::start_chat(api_action& action) {
  bool streaming = action.what == api_action::kind::chat_stream;
  sink_ = std::make_shared<strand_sink<http_connection>>(
      weak_from_this(), ctx_->gate, ctx_->options.max_pending_bytes, streaming ? "sse" : "http");
  auto model = action.request.model;
  bool usage = action.request.include_usage;
  action.request.io_loop = loop_;
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
  feed_.replay();
  return ctx_->access.attach(*who_.key, body_.session(), after, sink_);
}

// A replay fills at most half of the client's budget, leaving room for keep-alives; it goes
// on once the client has read (continue_replay). A long poll's page simply ends there.
void http_connection::pause_replay(std::uint64_t after) {
  if (body_.current() == kind::poll) {
    finish_poll();  // the client asks again after the page's last_seq
    return;
  }
  if (!feed_.pause(after)) return;
  ctx_->access.detach(body_.session(), sink_);  // the log may have finished and attached it
}

void http_connection::continue_replay() {
  if (!feed_.paused() || gone() || unsent() > ctx_->options.max_pending_bytes / 4) return;
  if (attach_after(feed_.paused_after())) return;
  // The session expired meanwhile: the client resumes, and hears 404 then.
  log::info("client_dropped", {{"session", body_.session()}, {"reason", "session_expired"}});
  sink_.reset();
  close();
}

void http_connection::on_replay_paused(const event_sink* from, std::uint64_t last_seq) {
  auto lk = guard();
  if (from != sink_.get() || gone() || body_.current() == kind::none) return;
  // Every event up to last_seq reached the strand before this: go on once they are read.
  pause_replay(last_seq);
  if (body_.current() == kind::sse) flush();
}

void http_connection::on_attached(const event_sink* from, std::uint64_t last_seq, bool ended) {
  auto lk = guard();
  if (from != sink_.get() || gone() || feed_.paused()) return;
  feed_.go_live();
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
  auto lk = try_guard();
  if (!lk) return inline_delivery::busy;
  if (from != sink_.get() || gone() || !feed_.live() || body_.current() != kind::sse ||
      body_.done())
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
  if (from != sink_.get() || gone() || body_.done() || feed_.paused()) return;
  auto k = body_.current();
  if (auto whole = body_.add(*ev)) {
    finish_with(std::move(*whole));
    return;
  }
  bool half_full = feed_.replaying() && (k == kind::sse ? unsent() : body_.poll_size()) >
                                            ctx_->options.max_pending_bytes / 2;
  if (k == kind::sse) {
    if (body_.done())
      timer_.cancel();  // no keep-alive after the last chunk
    else if (half_full)
      pause_replay(ev->seq);
    flush_sse();
  } else if (k == kind::poll && half_full && !body_.poll_ended()) {
    pause_replay(ev->seq);
  } else if (k == kind::poll && feed_.live()) {
    // A replayed event waits for on_attached; a live one is sent deferred, so events
    // already queued on the strand go out in the same response.
    post_guarded([](http_connection& c) {
      if (c.body_.current() == kind::poll) c.finish_poll();
    });
  }
}

void http_connection::on_detached(const event_sink* from, detach_reason why) {
  auto lk = guard();
  if (from != sink_.get() || gone() || body_.current() == kind::none) return;
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
// to run (guarded_connection). Off the strand (deliver_now) the response is never done, so
// there is no end to handle.
void http_connection::flush(bool on_strand) {
  if (gone() || !send_pending(body_.pending_bytes(), on_strand) || !on_strand) return;
  if (!writing() && body_.done() && body_.current() == kind::sse) {
    end_stream();
    return;
  }
  continue_replay();
}

void http_connection::on_write_timeout() {
  ctx_->count_drop(body_.current() == kind::sse ? "sse" : "http",
                   server_context::drop_reason::write_timeout);
  log::warn("client_dropped", {{"session", body_.session()}, {"reason", "write_timeout"}});
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
  watch_ = watch::on;
  stream_.socket().async_wait(
      net::ip::tcp::socket::wait_read,
      [self = shared_from_this()](beast::error_code ec) { self->on_peer_watched(ec); });
}

void http_connection::on_peer_watched(beast::error_code ec) {
  auto lk = guard();
  bool read_next = watch_ == watch::on_then_read;
  watch_ = watch::off;
  if (gone()) return;
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
          if (read_next) watch_ = watch::on_then_read;
          return;
        }
        break;
    }
  }
  // A request waits in buffer_ or the socket until the response is sent and resume_reading
  // asks for it.
  if (read_next) do_read();
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
    if (ec || self->body_.current() != kind::sse || self->gone()) return;
    self->body_.keepalive();
    self->flush_sse();
    self->arm_keepalive();
  });
}

}  // namespace streamgate
