#include "tools/loadgen/stream_client.hpp"

#include "tools/loadgen/stream_base.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <nlohmann/json.hpp>

#include <list>

namespace streamgate::loadgen {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

run_context::run_context(const options& o) : opts(o) {
  json body{{"model", o.model},
            {"stream", true},
            {"messages", json::array({{{"role", "user"}, {"content", o.prompt}}})}};
  if (!o.request_json.empty()) body.merge_patch(json::parse(o.request_json));
  chat_body = body.dump();
}

bool sse_has_content(std::string_view p) {
  constexpr std::string_view key = "\"content\":\"";
  auto at = p.find(key);
  return at != std::string_view::npos && at + key.size() < p.size() && p[at + key.size()] != '"';
}

bool message_has_output(const std::string& content, bool has_delta_members) {
  return !content.empty() || has_delta_members;
}

std::string sse_error_code(std::string_view p) {
  if (p.rfind("{\"error\"", 0) != 0) return {};
  constexpr std::string_view key = "\"code\":\"";
  auto at = p.find(key);
  if (at == std::string_view::npos) return "error";
  auto end = p.find('"', at + key.size());
  return std::string{p.substr(at + key.size(), end - at - key.size())};
}

namespace {

void close_tcp(beast::tcp_stream& s) {
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_both, ec);
  s.socket().close(ec);
}

// POST /v1/chat/completions with stream: true, then the SSE body as it arrives.
class sse_stream : public stream_base, public std::enable_shared_from_this<sse_stream> {
 public:
  sse_stream(net::io_context& ioc, const run_context& ctx, std::function<void(stream_result)> done)
      : stream_base(ctx, std::move(done)), stream_(net::make_strand(ioc)) {}

  void run() {
    auto& o = ctx_.opts;
    request_ = "POST " + o.target.path + "/v1/chat/completions HTTP/1.1\r\nHost: " + o.target.host +
               "\r\nContent-Type: application/json\r\nAccept: " +
               "text/event-stream\r\nContent-Length: " + std::to_string(ctx_.chat_body.size()) +
               "\r\n\r\n" + ctx_.chat_body;
    arm();
    stream_.async_connect(endpoint_of(o.target), [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->fail("connect", ec);
      self->arm();
      net::async_write(self->stream_, net::buffer(self->request_),
                       [self](beast::error_code ec, std::size_t) {
                         if (ec) return self->fail("write", ec);
                         self->read_header();
                       });
    });
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->body_limit(boost::none);
    http::async_read_header(stream_, buf_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->fail("read", ec);
                              auto status = self->parser_->get().result_int();
                              if (status != 200)
                                return self->finish(false, "http " + std::to_string(status));
                              self->read_body();
                            });
  }

  void read_body() {
    auto& body = parser_->get().body();
    body.data = chunk_;
    body.size = sizeof chunk_;
    http::async_read_some(
        stream_, buf_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return fail("read", ec);
    auto n = sizeof chunk_ - parser_->get().body().size;
    auto now = clock_type::now();
    if (!consume(std::string_view{chunk_, n}, now)) return;
    if (parser_->is_done()) return finish(false, "stream ended without [DONE]");
    read_body();
  }

  // Splits lines and handles `data:` lines; false once the stream is finished.
  bool consume(std::string_view bytes, clock_type::time_point now) {
    line_.append(bytes);
    std::size_t start = 0;
    for (auto nl = line_.find('\n'); nl != std::string::npos; nl = line_.find('\n', start)) {
      std::string_view line{line_.data() + start, nl - start};
      start = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.rfind("data:", 0) != 0) continue;
      auto payload = line.substr(5);
      if (!payload.empty() && payload.front() == ' ') payload.remove_prefix(1);
      if (payload == "[DONE]") {
        finish(true);
        return false;
      }
      auto code = sse_error_code(payload);
      if (!code.empty()) {
        finish(false, "error event: " + code);
        return false;
      }
      if (!sse_has_content(payload)) continue;
      on_delta(now);
      if (cancel_due()) {
        // Closing an SSE response is its cancel; nothing acknowledges it.
        mark_cancel();
        finish(true);
        return false;
      }
    }
    line_.erase(0, start);
    return true;
  }

  void arm() { stream_.expires_at(deadline_); }
  void close_socket() override { close_tcp(stream_); }

  beast::tcp_stream stream_;
  std::string request_;
  beast::flat_buffer buf_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  char chunk_[16384];
  std::string line_;
};

// POST /v1/sessions, then GET .../events?after=N long polls until the terminal event.
class poll_stream : public stream_base, public std::enable_shared_from_this<poll_stream> {
 public:
  poll_stream(net::io_context& ioc, const run_context& ctx, std::function<void(stream_result)> done)
      : stream_base(ctx, std::move(done)), stream_(net::make_strand(ioc)) {}

  void run() {
    arm();
    stream_.async_connect(endpoint_of(ctx_.opts.target),
                          [self = shared_from_this()](beast::error_code ec) {
                            if (ec) return self->fail("connect", ec);
                            self->send(http::verb::post, "/v1/sessions", self->ctx_.chat_body);
                          });
  }

 private:
  void send(http::verb verb, const std::string& target, std::string body) {
    req_ = {verb, ctx_.opts.target.path + target, 11};
    req_.set(http::field::host, ctx_.opts.target.host);
    if (verb == http::verb::post) req_.set(http::field::content_type, "application/json");
    req_.body() = std::move(body);
    req_.prepare_payload();
    arm();
    http::async_write(stream_, req_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->fail("write", ec);
                        self->res_ = {};
                        http::async_read(self->stream_, self->buf_, self->res_,
                                         [self](beast::error_code ec, std::size_t) {
                                           if (ec) return self->fail("read", ec);
                                           self->on_response();
                                         });
                      });
  }

  void on_response() {
    auto now = clock_type::now();
    auto status = res_.result_int();
    auto body = json::parse(res_.body(), nullptr, false);
    if (r_.cancel_sent) {
      r_.cancel_ack_ms = ms_since(r_.cancel_at, now);
      return finish(status == 200, status == 200 ? "" : "cancel: http " + std::to_string(status));
    }
    if (session_.empty()) {
      if (status != 201 || !body.is_object() || !body.contains("session"))
        return finish(false, "create: http " + std::to_string(status));
      session_ = body["session"].get<std::string>();
      return poll();
    }
    if (status != 200 || !body.is_object())
      return finish(false, "poll: http " + std::to_string(status));
    for (auto& ev : body["events"]) {
      auto type = ev.value("type", "");
      if (type == "delta") {
        if (message_has_output(ev.value("content", ""), ev.contains("delta"))) on_delta(now);
      } else if (type == "done") {
        return finish(true);
      } else if (type == "error") {
        return finish(false, "error event: " + ev.value("code", ""));
      } else if (type == "cancelled") {
        return finish(false, "cancelled by the server");
      }
    }
    after_ = body.value("last_seq", after_);
    if (cancel_due()) {
      mark_cancel();
      return send(http::verb::post, "/v1/sessions/" + session_ + "/cancel", "");
    }
    poll();
  }

  void poll() {
    send(http::verb::get,
         "/v1/sessions/" + session_ + "/events?after=" + std::to_string(after_) + "&wait_ms=30000",
         "");
  }

  void arm() { stream_.expires_at(deadline_); }
  void close_socket() override { close_tcp(stream_); }

  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  std::string session_;
  std::uint64_t after_ = 0;
};

}  // namespace

void start_stream(net::io_context& ioc, const run_context& ctx,
                  std::function<void(stream_result)> done) {
  switch (ctx.opts.proto) {
    case protocol::sse:
      std::make_shared<sse_stream>(ioc, ctx, std::move(done))->run();
      return;
    case protocol::poll:
      std::make_shared<poll_stream>(ioc, ctx, std::move(done))->run();
      return;
    case protocol::ws:
      start_websocket_stream(ioc, ctx, std::move(done));
      return;
  }
}

}  // namespace streamgate::loadgen
