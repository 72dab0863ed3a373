// The WebSocket side of loadgen (docs/protocol.md, `GET /v1/ws`): one stream per socket at a
// time (start, deltas, done; cancel acknowledged by `cancelled`), and idle sockets for the
// memory-per-connection figure.

#include "tools/loadgen/stream_base.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <nlohmann/json.hpp>

#include <list>
#include <memory>
#include <vector>

namespace streamgate::loadgen {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using json = nlohmann::json;

namespace {

// Connects and upgrades; `then(ec, upgrading)` runs on the stream's strand (`upgrading`: the
// TCP connection was made). With `res`, a declined upgrade's response is kept there.
template <class F>
void open_websocket(ws_type& ws, const endpoint& target, clock_type::time_point deadline, F then,
                    websocket::response_type* res = nullptr) {
  beast::get_lowest_layer(ws).expires_at(deadline);
  beast::get_lowest_layer(ws).async_connect(
      endpoint_of(target), [&ws, target, then, res](beast::error_code ec) mutable {
        if (ec) return then(ec, false);
        // From here the WebSocket's own timeouts apply; the caller bounds the whole stream.
        beast::get_lowest_layer(ws).expires_never();
        ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
        auto host = target.host + ":" + std::to_string(target.port);
        auto done = [then](beast::error_code ec) mutable { then(ec, true); };
        if (res)
          ws.async_handshake(*res, host, target.path + "/v1/ws", std::move(done));
        else
          ws.async_handshake(host, target.path + "/v1/ws", std::move(done));
      });
}

// One stream on its own socket, or with --keep-alive on its slot's socket once the previous
// stream there ended. With --resume a lost socket is replaced by a new one that sends `resume`
// with the session and the last seq seen. Handlers carry the socket's generation, so those of
// a socket left behind do nothing.
class ws_stream : public stream_base, public std::enable_shared_from_this<ws_stream> {
 public:
  ws_stream(net::io_context& ioc, const run_context& ctx, std::function<void(stream_result)> done,
            std::shared_ptr<kept_connection> keep)
      : stream_base(ctx, std::move(done)),
        keep_(std::move(keep)),
        // A kept socket's handlers run on its strand: the stream's timers join it.
        strand_(keep_ && keep_->ws ? keep_->ws->get_executor()
                                   : net::any_io_executor{net::make_strand(ioc)}),
        timer_(strand_),
        pause_(strand_) {
    if (!keep_) return;
    ws_ = std::move(keep_->ws);
    if (!ws_) keep_->ws_streams = 0;
    // A new id per stream on the socket, though the server frees an ended stream's id: a
    // frame of the previous stream could then never pass for one of this stream.
    id_ = std::to_string(++keep_->ws_streams);
  }

  void run() {
    timer_.expires_at(deadline_);
    timer_.async_wait([w = weak_from_this()](beast::error_code ec) {
      if (auto self = w.lock(); self && !ec) self->finish(false, "timeout", "timeout");
    });
    start_ = R"({"type":"start","id":")" + id_ + R"(","request":)" + ctx_.chat_body + "}";
    if (!ws_) return open(start_);
    on_kept_ = true;
    send(start_);
    read();
  }

 private:
  // A new socket whose first message is `first` (start or resume).
  void open(std::string first) {
    if (ws_) old_.push_back(std::move(ws_));
    ++r_.connections;
    ws_ = std::make_unique<ws_type>(strand_);
    out_.clear();
    res_ = {};
    in_.consume(in_.size());
    auto gen = ++gen_;
    prepare_socket(beast::get_lowest_layer(*ws_).socket(), ctx_.opts);
    open_websocket(
        *ws_, ctx_.opts.target, deadline_,
        [self = shared_from_this(), gen, first](beast::error_code ec, bool upgrading) {
          if (gen != self->gen_) return;
          if (ec && upgrading && ec == websocket::error::upgrade_declined) {
            // A refusal over plain HTTP (a limit, a drain): its body names it.
            auto status = self->res_.result_int();
            auto code = body_error_code(self->res_.body());
            self->on_terminal(code.empty() ? "http_" + std::to_string(status) : code);
            return self->finish(false, "upgrade: http " + std::to_string(status));
          }
          if (ec) return self->lost(upgrading ? "handshake" : "connect", ec, gen);
          self->ws_->text(true);
          self->send(first);
          self->read();
        },
        &res_);
  }

  void send(std::string frame) {
    // A stream sends few frames (start or resume, cancel, a last ping): queue them in order.
    out_.push_back(std::move(frame));
    if (out_.size() == 1) write_next();
  }

  void write_next() {
    ws_->async_write(net::buffer(out_.front()),
                     [self = shared_from_this(), gen = gen_](beast::error_code ec, std::size_t) {
                       if (gen != self->gen_) return;
                       if (ec) return self->lost("write", ec, gen);
                       self->out_.pop_front();
                       if (!self->out_.empty()) self->write_next();
                     });
  }

  // A slow reader pauses before every read.
  void read() {
    if (ctx_.opts.read_delay_ms <= 0) return read_frame();
    wait_then(pause_, read_delay(), [self = shared_from_this(), gen = gen_] {
      if (gen == self->gen_) self->read_frame();
    });
  }

  void read_frame() {
    ws_->async_read(in_,
                    [self = shared_from_this(), gen = gen_](beast::error_code ec, std::size_t) {
                      if (gen != self->gen_) return;
                      if (ec) return self->lost("read", ec, gen);
                      self->on_frame();
                    });
  }

  void on_frame() {
    auto now = clock_type::now();
    on_kept_ = false;
    auto frame = json::parse(beast::buffers_to_string(in_.data()), nullptr, false);
    in_.consume(in_.size());
    if (!frame.is_object()) return finish(false, "frame is not a JSON object");
    auto type = frame.value("type", "");
    bool has_seq = frame.contains("seq");
    bool fresh = !has_seq || accept_seq(frame.value("seq", std::uint64_t{0}));
    if (type == "started") {
      if (session_.empty()) session_ = frame.value("session", "");
    } else if (type == "delta") {
      if (!fresh || r_.terminals > 0) return read();
      if (frame.value("choice", 0) == 0) text_ += frame.value("content", "");
      if (!message_has_output(frame.value("content", ""), frame.contains("delta"))) return read();
      on_delta(now);
      if (cancel_due()) {
        mark_cancel();
        send(R"({"type":"cancel","id":")" + id_ + R"("})");
      } else if (disconnect_due()) {
        disconnected_ = true;
        return lost("disconnect", {}, gen_);
      }
    } else if (type == "done" || type == "cancelled" || (type == "error" && has_seq)) {
      if (type == "cancelled" && r_.cancel_sent && r_.terminals == 0)
        r_.cancel_ack_ms = ms_since(r_.cancel_at, now);
      bool first = r_.terminals == 0;
      on_terminal(type == "error" ? frame.value("code", "error") : type);
      if (first) {
        if (type == "error") r_.error = "error event: " + frame.value("code", "");
        if (type == "cancelled" && !r_.cancel_sent) r_.error = "cancelled by the server";
        if (type == "done" && r_.cancel_sent) r_.error = "done after cancel";
        // A ping behind the terminal: whatever comes for this stream before its pong is a
        // second terminal event the server should not have sent.
        send(R"({"type":"ping","data":"last"})");
      }
    } else if (type == "error") {
      // A refusal of our start or resume (no seq): the stream's only answer.
      if (r_.terminals == 0) {
        on_terminal(frame.value("code", "error"));
        return finish(false, "refused: " + frame.value("code", ""));
      }
    } else if (type == "pong" && r_.terminals > 0) {
      // Nothing of this stream is left on the socket; with a write still in flight the next
      // stream's could not start, so such a socket is not kept.
      reusable_ = out_.empty();
      return finish(r_.outcome == "done" || (r_.outcome == "cancelled" && r_.cancel_sent));
    }
    read();
  }

  // The socket is gone (or left on purpose) before the terminal event: resume on a new one
  // when allowed. A close the server sent before the stream started names the refusal.
  void lost(const char* stage, beast::error_code ec, unsigned gen) {
    if (gen != gen_ || finished()) return;
    if (retry_on_new_connection()) {
      ++gen_;
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).socket().close(ignored);
      return open(start_);
    }
    if (r_.terminals > 0) return finish(r_.outcome == "done");
    if (ec == websocket::error::closed && session_.empty()) {
      auto code = ws_->reason().code;
      if (code == websocket::close_code::try_again_later)
        on_terminal("too_many_connections");
      else if (code == websocket::close_code::going_away)
        on_terminal("server_shutting_down");
      return finish(false, "closed " + std::to_string(code), "no_terminal");
    }
    if (session_.empty() && restart_allowed()) {
      // Lost before `started`: there is no session to resume, and the server may never have
      // read the start (a socket closed with unread bytes is reset, and they go with it). A
      // client starts again on a new socket; at worst the first session runs unheard until
      // its resume window ends.
      ++r_.resumes;
      ++gen_;
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).socket().close(ignored);
      wait_then(pause_, resume_delay(), [self = shared_from_this()] { self->open(self->start_); });
      return;
    }
    if (!begin_resume(stage, ec)) return;
    ++gen_;  // handlers of this socket do nothing from here on
    beast::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
    wait_then(pause_, resume_delay(), [self = shared_from_this()] {
      self->open(R"({"type":"resume","id":"1","session":")" + self->session_ + R"(","after":)" +
                 std::to_string(self->last_seq_) + "}");
    });
  }

  void close_socket() override {
    timer_.cancel();
    pause_.cancel();
    if (keep_ && reusable_ && ws_) {
      keep_->ws = std::move(ws_);
      return;
    }
    beast::error_code ec;
    if (ws_) beast::get_lowest_layer(*ws_).socket().close(ec);
  }

  std::shared_ptr<kept_connection> keep_;  // --keep-alive: the slot's
  net::any_io_executor strand_;
  net::steady_timer timer_;
  net::steady_timer pause_;
  std::unique_ptr<ws_type> ws_;
  std::vector<std::unique_ptr<ws_type>> old_;  // left sockets, kept until their handlers ran
  unsigned gen_ = 0;
  beast::flat_buffer in_;
  std::list<std::string> out_;
  websocket::response_type res_;
  std::string id_ = "1";
  std::string start_;
};

// Keeps a read pending so the server's pings are answered while the socket idles.
void drain(std::shared_ptr<ws_type> ws, std::shared_ptr<beast::flat_buffer> buf) {
  ws->async_read(*buf, [ws, buf](beast::error_code ec, std::size_t) {
    if (ec) return;
    buf->consume(buf->size());
    drain(ws, buf);
  });
}

}  // namespace

void start_websocket_stream(net::io_context& ioc, const run_context& ctx,
                            std::function<void(stream_result)> done,
                            std::shared_ptr<kept_connection> keep) {
  std::make_shared<ws_stream>(ioc, ctx, std::move(done), std::move(keep))->run();
}

struct idle_pool::impl {
  net::io_context& ioc;
  const run_context& ctx;
  std::list<std::shared_ptr<ws_type>> sockets;
};

idle_pool::idle_pool(net::io_context& ioc, const run_context& ctx)
    : impl_(std::make_shared<impl>(impl{ioc, ctx, {}})) {}

idle_pool::~idle_pool() = default;

void idle_pool::open_one(std::function<void(bool)> opened) {
  auto ws = std::make_shared<ws_type>(net::make_strand(impl_->ioc));
  impl_->sockets.push_back(ws);
  auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                          std::chrono::duration<double>(impl_->ctx.opts.timeout_s));
  if (impl_->ctx.opts.proto != protocol::ws) {
    // Plain connections: the HTTP transports hold an idle keep-alive socket.
    beast::get_lowest_layer(*ws).expires_at(deadline);
    beast::get_lowest_layer(*ws).async_connect(endpoint_of(impl_->ctx.opts.target),
                                               [ws, opened](beast::error_code ec) {
                                                 beast::get_lowest_layer(*ws).expires_never();
                                                 opened(!ec);
                                               });
    return;
  }
  open_websocket(*ws, impl_->ctx.opts.target, deadline, [ws, opened](beast::error_code ec, bool) {
    opened(!ec);
    if (!ec) drain(ws, std::make_shared<beast::flat_buffer>());
  });
}

void idle_pool::close_all() {
  for (auto& ws : impl_->sockets) {
    beast::error_code ec;
    beast::get_lowest_layer(*ws).socket().close(ec);
  }
  impl_->sockets.clear();
}

}  // namespace streamgate::loadgen
