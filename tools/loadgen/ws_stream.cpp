// The WebSocket side of loadgen (docs/protocol.md, `GET /v1/ws`): one stream per socket
// (start, deltas, done; cancel acknowledged by `cancelled`), and idle sockets for the
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

namespace streamgate::loadgen {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using json = nlohmann::json;
using ws_type = websocket::stream<beast::tcp_stream>;

namespace {

// Connects and upgrades; `then(ec)` runs on the stream's strand.
template <class F>
void open_websocket(ws_type& ws, const endpoint& target, clock_type::time_point deadline, F then) {
  beast::get_lowest_layer(ws).expires_at(deadline);
  beast::get_lowest_layer(ws).async_connect(
      endpoint_of(target), [&ws, target, then](beast::error_code ec) mutable {
        if (ec) return then(ec);
        // From here the WebSocket's own timeouts apply; the caller bounds the whole stream.
        beast::get_lowest_layer(ws).expires_never();
        ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
        ws.async_handshake(target.host + ":" + std::to_string(target.port), target.path + "/v1/ws",
                           std::move(then));
      });
}

class ws_stream : public stream_base, public std::enable_shared_from_this<ws_stream> {
 public:
  ws_stream(net::io_context& ioc, const run_context& ctx, std::function<void(stream_result)> done)
      : stream_base(ctx, std::move(done)), ws_(net::make_strand(ioc)), timer_(ws_.get_executor()) {}

  void run() {
    timer_.expires_at(deadline_);
    timer_.async_wait([w = weak_from_this()](beast::error_code ec) {
      if (auto self = w.lock(); self && !ec) self->finish(false, "timeout");
    });
    open_websocket(
        ws_, ctx_.opts.target, deadline_, [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->fail("handshake", ec);
          self->ws_.text(true);
          self->send(R"({"type":"start","id":"1","request":)" + self->ctx_.chat_body + "}");
          self->read();
        });
  }

 private:
  void send(std::string frame) {
    // One stream per socket sends at most two frames (start, cancel): queue them in order.
    out_.push_back(std::move(frame));
    if (out_.size() == 1) write_next();
  }

  void write_next() {
    ws_.async_write(net::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (ec) return self->fail("write", ec);
                      self->out_.pop_front();
                      if (!self->out_.empty()) self->write_next();
                    });
  }

  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("read", ec);
      self->on_frame();
    });
  }

  void on_frame() {
    auto now = clock_type::now();
    auto frame = json::parse(beast::buffers_to_string(in_.data()), nullptr, false);
    in_.consume(in_.size());
    if (!frame.is_object()) return finish(false, "frame is not a JSON object");
    auto type = frame.value("type", "");
    if (type == "delta") {
      if (!message_has_output(frame.value("content", ""), frame.contains("delta"))) return read();
      on_delta(now);
      if (cancel_due()) {
        mark_cancel();
        send(R"({"type":"cancel","id":"1"})");
      }
    } else if (type == "done") {
      return finish(!r_.cancel_sent, r_.cancel_sent ? "done after cancel" : "");
    } else if (type == "cancelled") {
      if (!r_.cancel_sent) return finish(false, "cancelled by the server");
      r_.cancel_ack_ms = ms_since(r_.cancel_at, now);
      return finish(true);
    } else if (type == "error") {
      return finish(false, "error event: " + frame.value("code", ""));
    }
    read();
  }

  void close_socket() override {
    timer_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  ws_type ws_;
  net::steady_timer timer_;
  beast::flat_buffer in_;
  std::list<std::string> out_;
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
                            std::function<void(stream_result)> done) {
  std::make_shared<ws_stream>(ioc, ctx, std::move(done))->run();
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
  open_websocket(*ws, impl_->ctx.opts.target, deadline, [ws, opened](beast::error_code ec) {
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
