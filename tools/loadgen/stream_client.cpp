#include "tools/loadgen/stream_client.hpp"

#include "tools/fake_upstream/behaviour.hpp"
#include "tools/loadgen/stream_base.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
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
  if (o.expect_text) expected_text = fake::full_text(o.expect_text->first, o.expect_text->second);
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

std::string body_error_code(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return {};
  auto& code = j["error"]["code"];
  return code.is_string() ? code.get<std::string>() : std::string{};
}

std::string sse_error_code(std::string_view p) {
  if (p.rfind("{\"error\"", 0) != 0) return {};
  constexpr std::string_view key = "\"code\":\"";
  auto at = p.find(key);
  if (at == std::string_view::npos) return "error";
  auto end = p.find('"', at + key.size());
  return std::string{p.substr(at + key.size(), end - at - key.size())};
}

std::shared_ptr<kept_connection> make_kept_connection() {
  return std::make_shared<kept_connection>();
}

namespace {

void close_tcp(beast::tcp_stream& s) {
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_both, ec);
  s.socket().close(ec);
}

// The text of a chat chunk's choice 0 (`choices[0].delta.content`), empty for other choices.
std::string choice0_content(std::string_view payload) {
  auto j = json::parse(payload, nullptr, false);
  if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array()) return {};
  for (auto& c : j["choices"]) {
    if (!c.is_object() || c.value("index", 0) != 0 || !c.contains("delta")) continue;
    auto& d = c["delta"];
    if (d.is_object() && d.contains("content") && d["content"].is_string())
      return d["content"].get<std::string>();
  }
  return {};
}

// The slot's kept connection, or a new one on a strand of its own.
std::unique_ptr<beast::tcp_stream> take_or_make(net::io_context& ioc, kept_connection* keep) {
  if (keep && keep->http) return std::move(keep->http);
  return std::make_unique<beast::tcp_stream>(net::make_strand(ioc));
}

// POST /v1/chat/completions with stream: true, then the SSE body as it arrives. With --resume:
// POST /v1/sessions, then GET /v1/sessions/{id}/events as SSE, again with Last-Event-ID after
// a lost connection (closing a chat-completions response would cancel its session).
class sse_stream : public stream_base, public std::enable_shared_from_this<sse_stream> {
 public:
  sse_stream(net::io_context& ioc, const run_context& ctx, std::function<void(stream_result)> done,
             std::shared_ptr<kept_connection> keep)
      : stream_base(ctx, std::move(done)),
        keep_(std::move(keep)),
        tcp_(take_or_make(ioc, keep_.get())),
        stream_(*tcp_),
        pause_(stream_.get_executor()) {
    if (keep_) buf_ = std::move(keep_->buf);
  }

  void run() {
    auto& o = ctx_.opts;
    auto path = o.resume ? "/v1/sessions" : "/v1/chat/completions";
    request_ = "POST " + o.target.path + path + " HTTP/1.1\r\nHost: " + o.target.host +
               "\r\nContent-Type: application/json\r\nAccept: " +
               "text/event-stream\r\nContent-Length: " + std::to_string(ctx_.chat_body.size()) +
               "\r\n\r\n" + ctx_.chat_body;
    on_kept_ = stream_.socket().is_open();
    send_request();
  }

 private:
  void connect_and_send() {
    arm();
    ++r_.connections;
    prepare_socket(stream_.socket(), ctx_.opts);
    stream_.async_connect(endpoint_of(ctx_.opts.target),
                          [self = shared_from_this()](beast::error_code ec) {
                            if (ec) return self->lost("connect", ec);
                            self->send_request();
                          });
  }

  // The request on the open connection (a kept one, or the session's after its creation),
  // else on a new one.
  void send_request() {
    if (!stream_.socket().is_open()) return connect_and_send();
    arm();
    net::async_write(stream_, net::buffer(request_),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->lost("write", ec);
                       self->read_header();
                     });
  }

  // The events of the session, after the last seq seen, as SSE.
  void open_events() {
    auto& o = ctx_.opts;
    request_ = "GET " + o.target.path + "/v1/sessions/" + session_ +
               "/events HTTP/1.1\r\nHost: " + o.target.host +
               "\r\nAccept: text/event-stream\r\nLast-Event-ID: " + std::to_string(last_seq_) +
               "\r\n\r\n";
    line_.clear();
    streaming_ = true;
    send_request();
  }

  void read_header() {
    parser_.emplace();
    parser_->body_limit(boost::none);
    http::async_read_header(
        stream_, buf_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return self->lost("read", ec);
          self->on_kept_ = false;
          auto& res = self->parser_->get();
          if (auto id = res["X-Streamgate-Session"]; !id.empty() && self->session_.empty())
            self->session_ = std::string{id};
          auto status = res.result_int();
          if (status != 200 || (self->ctx_.opts.resume && !self->streaming_))
            return self->read_whole(status);
          self->read_body();
        });
  }

  // A response that is not the stream: the session's creation (201) or a refusal.
  void read_whole(unsigned status) {
    whole_.emplace(std::move(*parser_));
    http::async_read(stream_, buf_, *whole_,
                     [self = shared_from_this(), status](beast::error_code ec, std::size_t) {
                       if (ec) return self->lost("read", ec);
                       auto& body = self->whole_->get().body();
                       if (status == 201) {
                         auto j = json::parse(body, nullptr, false);
                         if (j.is_object() && j.contains("session") && j["session"].is_string()) {
                           self->session_ = j["session"].get<std::string>();
                           return self->open_events();
                         }
                       }
                       auto code = body_error_code(body);
                       self->on_terminal(code.empty() ? "http_" + std::to_string(status) : code);
                       self->reusable_ = self->whole_->keep_alive();
                       self->finish(false, "http " + std::to_string(status));
                     });
  }

  // A slow reader pauses before every read.
  void read_body() {
    if (ctx_.opts.read_delay_ms <= 0) return read_some();
    wait_then(pause_, read_delay(), [self = shared_from_this()] { self->read_some(); });
  }

  void read_some() {
    auto& body = parser_->get().body();
    body.data = chunk_;
    body.size = ctx_.opts.read_delay_ms > 0 ? 1024 : sizeof chunk_;
    auto size = body.size;
    http::async_read_some(stream_, buf_, *parser_,
                          [self = shared_from_this(), size](beast::error_code ec, std::size_t) {
                            self->on_body(ec, size);
                          });
  }

  void on_body(beast::error_code ec, std::size_t size) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return lost("read", ec);
    auto n = size - parser_->get().body().size;
    auto now = clock_type::now();
    if (!consume(std::string_view{chunk_, n}, now)) return;
    if (parser_->is_done()) {
      // The terminating chunk is read: the connection is at a message boundary.
      reusable_ = parser_->keep_alive();
      if (r_.terminals > 0) return finish(r_.outcome == "done");
      return lost("stream ended without [DONE]", {});
    }
    read_body();
  }

  // Splits lines and handles `id:` and `data:` lines; false once the stream is finished.
  bool consume(std::string_view bytes, clock_type::time_point now) {
    line_.append(bytes);
    std::size_t start = 0;
    for (auto nl = line_.find('\n'); nl != std::string::npos; nl = line_.find('\n', start)) {
      std::string_view line{line_.data() + start, nl - start};
      start = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.rfind("id:", 0) == 0) {
        auto v = line.substr(3);
        if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        pending_seq_ = std::strtoull(std::string{v}.c_str(), nullptr, 10);
        continue;
      }
      if (line.rfind("data:", 0) != 0) continue;
      auto payload = line.substr(5);
      if (!payload.empty() && payload.front() == ' ') payload.remove_prefix(1);
      bool fresh = !pending_seq_ || accept_seq(*pending_seq_);
      pending_seq_.reset();
      // After the terminal event only further terminals are counted, until the body ends.
      if (payload == "[DONE]") {
        on_terminal("done");
        continue;
      }
      auto code = sse_error_code(payload);
      if (!code.empty()) {
        on_terminal(code);
        if (r_.terminals == 1) r_.error = "error event: " + code;
        continue;
      }
      if (r_.terminals > 0 || !fresh || !sse_has_content(payload)) continue;
      if (!ctx_.expected_text.empty()) text_ += choice0_content(payload);
      on_delta(now);
      if (cancel_due()) {
        // Closing an SSE response is its cancel; nothing acknowledges it.
        mark_cancel();
        on_terminal("cancelled");
        finish(true);
        return false;
      }
      if (disconnect_due()) {
        // Vanish without a goodbye, then resume from the last seq seen.
        disconnected_ = true;
        line_.erase(0, start);
        lost("disconnect", {});
        return false;
      }
    }
    line_.erase(0, start);
    return true;
  }

  // The connection is gone (or left on purpose) before the terminal event: resume when
  // allowed, else the stream ends here.
  void lost(const char* stage, beast::error_code ec) {
    if (finished()) return;
    if (retry_on_new_connection()) {
      close_tcp(stream_);
      buf_.consume(buf_.size());
      return connect_and_send();
    }
    if (r_.terminals > 0) return finish(r_.outcome == "done");
    if (!begin_resume(stage, ec)) return;
    close_tcp(stream_);
    buf_.consume(buf_.size());
    wait_then(pause_, resume_delay(), [self = shared_from_this()] { self->open_events(); });
  }

  void arm() { stream_.expires_at(deadline_); }
  void close_socket() override {
    pause_.cancel();
    if (keep_ && reusable_) {
      keep_->http = std::move(tcp_);
      keep_->buf = std::move(buf_);
      return;
    }
    close_tcp(stream_);
  }

  std::shared_ptr<kept_connection> keep_;  // --keep-alive: the slot's
  std::unique_ptr<beast::tcp_stream> tcp_;
  beast::tcp_stream& stream_;  // *tcp_, handed to the slot only once the stream has finished
  net::steady_timer pause_;
  bool streaming_ = false;  // the session's events are being read (resume mode)
  std::string request_;
  beast::flat_buffer buf_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  std::optional<http::response_parser<http::string_body>> whole_;
  char chunk_[16384];
  std::string line_;
  std::optional<std::uint64_t> pending_seq_;
};

// POST /v1/sessions, then GET .../events?after=N long polls until the terminal event; a lost
// connection is a new connection and the same poll.
class poll_stream : public stream_base, public std::enable_shared_from_this<poll_stream> {
 public:
  poll_stream(net::io_context& ioc, const run_context& ctx, std::function<void(stream_result)> done,
              std::shared_ptr<kept_connection> keep)
      : stream_base(ctx, std::move(done)),
        keep_(std::move(keep)),
        tcp_(take_or_make(ioc, keep_.get())),
        stream_(*tcp_),
        pause_(stream_.get_executor()) {
    if (keep_) buf_ = std::move(keep_->buf);
  }

  void run() {
    on_kept_ = stream_.socket().is_open();
    if (on_kept_) return create_session();
    connect([self = shared_from_this()] { self->create_session(); });
  }

 private:
  void create_session() { send(http::verb::post, "/v1/sessions", ctx_.chat_body); }

  template <class F>
  void connect(F then) {
    arm();
    ++r_.connections;
    prepare_socket(stream_.socket(), ctx_.opts);
    stream_.async_connect(endpoint_of(ctx_.opts.target),
                          [self = shared_from_this(), then](beast::error_code ec) {
                            if (ec) return self->lost("connect", ec);
                            then();
                          });
  }

  void send(http::verb verb, const std::string& target, std::string body) {
    req_ = {verb, ctx_.opts.target.path + target, 11};
    req_.set(http::field::host, ctx_.opts.target.host);
    if (verb == http::verb::post) req_.set(http::field::content_type, "application/json");
    req_.body() = std::move(body);
    req_.prepare_payload();
    reusable_ = false;  // until its response is read whole
    arm();
    http::async_write(stream_, req_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->lost("write", ec);
                        self->res_ = {};
                        http::async_read(self->stream_, self->buf_, self->res_,
                                         [self](beast::error_code ec, std::size_t) {
                                           if (ec) return self->lost("read", ec);
                                           self->on_response();
                                         });
                      });
  }

  void on_response() {
    auto now = clock_type::now();
    on_kept_ = false;
    reusable_ = res_.keep_alive();
    auto status = res_.result_int();
    auto body = json::parse(res_.body(), nullptr, false);
    if (r_.cancel_sent) {
      r_.cancel_ack_ms = ms_since(r_.cancel_at, now);
      if (status == 200) on_terminal("cancelled");
      return finish(status == 200, status == 200 ? "" : "cancel: http " + std::to_string(status));
    }
    if (session_.empty()) {
      if (status != 201 || !body.is_object() || !body.contains("session"))
        return refused(status, "create");
      session_ = body["session"].get<std::string>();
      return poll();
    }
    if (status != 200 || !body.is_object()) return refused(status, "poll");
    for (auto& ev : body["events"]) {
      bool fresh = accept_seq(ev.value("seq", std::uint64_t{0}));
      auto type = ev.value("type", "");
      if (type == "done") {
        on_terminal("done");
      } else if (type == "error") {
        on_terminal(ev.value("code", "error"));
        if (r_.terminals == 1) r_.error = "error event: " + ev.value("code", "");
      } else if (type == "cancelled") {
        on_terminal("cancelled");
        if (r_.terminals == 1) r_.error = "cancelled by the server";
      } else if (type == "delta" && fresh && r_.terminals == 0) {
        if (ev.value("choice", 0) == 0) text_ += ev.value("content", "");
        if (message_has_output(ev.value("content", ""), ev.contains("delta"))) on_delta(now);
      }
    }
    after_ = body.value("last_seq", after_);
    if (r_.terminals > 0 || body.value("done", false)) return finish(r_.outcome == "done");
    if (cancel_due()) {
      mark_cancel();
      return send(http::verb::post, "/v1/sessions/" + session_ + "/cancel", "");
    }
    if (disconnect_due()) {
      disconnected_ = true;
      return lost("disconnect", {});
    }
    if (ctx_.opts.read_delay_ms > 0)
      return wait_then(pause_, read_delay(), [self = shared_from_this()] { self->poll(); });
    poll();
  }

  void refused(unsigned status, const char* stage) {
    auto code = body_error_code(res_.body());
    on_terminal(code.empty() ? "http_" + std::to_string(status) : code);
    finish(false, std::string{stage} + ": http " + std::to_string(status));
  }

  // A poll's connection broke (or was left): poll again with the same `after` on a new one.
  void lost(const char* stage, beast::error_code ec) {
    if (finished()) return;
    if (retry_on_new_connection()) {
      close_tcp(stream_);
      buf_.consume(buf_.size());
      return connect([self = shared_from_this()] { self->create_session(); });
    }
    if (!begin_resume(stage, ec)) return;  // (--cancel-after excludes --resume)
    close_tcp(stream_);
    buf_.consume(buf_.size());
    wait_then(pause_, resume_delay(),
              [self = shared_from_this()] { self->connect([self] { self->poll(); }); });
  }

  void poll() {
    send(http::verb::get,
         "/v1/sessions/" + session_ + "/events?after=" + std::to_string(after_) + "&wait_ms=30000",
         "");
  }

  void arm() { stream_.expires_at(deadline_); }
  void close_socket() override {
    pause_.cancel();
    if (keep_ && reusable_) {
      keep_->http = std::move(tcp_);
      keep_->buf = std::move(buf_);
      return;
    }
    close_tcp(stream_);
  }

  std::shared_ptr<kept_connection> keep_;  // --keep-alive: the slot's
  std::unique_ptr<beast::tcp_stream> tcp_;
  beast::tcp_stream& stream_;  // *tcp_, handed to the slot only once the stream has finished
  net::steady_timer pause_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  std::uint64_t after_ = 0;
};

}  // namespace

void start_stream(net::io_context& ioc, const run_context& ctx,
                  std::function<void(stream_result)> done, std::shared_ptr<kept_connection> keep) {
  switch (ctx.opts.proto) {
    case protocol::sse:
      std::make_shared<sse_stream>(ioc, ctx, std::move(done), std::move(keep))->run();
      return;
    case protocol::poll:
      std::make_shared<poll_stream>(ioc, ctx, std::move(done), std::move(keep))->run();
      return;
    case protocol::ws:
      start_websocket_stream(ioc, ctx, std::move(done), std::move(keep));
      return;
  }
}

}  // namespace streamgate::loadgen
