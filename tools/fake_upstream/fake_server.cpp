#include "tools/fake_upstream/fake_server.hpp"

#include "tools/fake_upstream/shaped_answer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

namespace streamgate::fake {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

namespace {

// Adds one to `count` and raises `peak` to the new value if it is higher.
void count_up(std::atomic<std::int64_t>& count, std::atomic<std::int64_t>& peak) {
  auto now = count.fetch_add(1, std::memory_order_relaxed) + 1;
  auto seen = peak.load(std::memory_order_relaxed);
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
}

}  // namespace

void stats::stream_started() {
  streams_started.fetch_add(1, std::memory_order_relaxed);
  count_up(active_streams, peak_active_streams);
}

void stats::stream_ended() {
  active_streams.fetch_sub(1, std::memory_order_relaxed);
}

void stats::connection_opened() {
  count_up(open_connections, peak_open_connections);
}

void stats::connection_closed() {
  open_connections.fetch_sub(1, std::memory_order_relaxed);
}

void stats::request_opened() {
  count_up(open_requests, peak_open_requests);
}

void stats::request_closed() {
  open_requests.fetch_sub(1, std::memory_order_relaxed);
}

void stats::reset() {
  for (auto* c :
       {&requests_total, &streams_started, &streams_completed, &client_aborts, &bytes_sent})
    c->store(0);
  peak_active_streams.store(active_streams.load());
  peak_open_connections.store(open_connections.load());
  peak_open_requests.store(open_requests.load());
}

std::string stats::to_json() const {
  return json{{"requests_total", requests_total.load()},
              {"streams_started", streams_started.load()},
              {"streams_completed", streams_completed.load()},
              {"active_streams", active_streams.load()},
              {"peak_active_streams", peak_active_streams.load()},
              {"open_connections", open_connections.load()},
              {"peak_open_connections", peak_open_connections.load()},
              {"open_requests", open_requests.load()},
              {"peak_open_requests", peak_open_requests.load()},
              {"client_aborts", client_aborts.load()},
              {"bytes_sent", bytes_sent.load()}}
      .dump();
}

namespace {

// `nest` > 0: the error object also holds a value that many arrays deep, written as text (a
// JSON tree that deep would overflow the stack of whoever dumps it).
std::string error_body(const std::string& message, const std::string& type, const std::string& code,
                       std::uint32_t nest = 0) {
  auto body = json{{"error", {{"message", message}, {"type", type}, {"code", code}}}}.dump();
  if (nest > 0)
    body.insert(body.size() - 2, ",\"nest\":" + std::string(nest, '[') + std::string(nest, ']'));
  return body;
}

// One client connection: keep-alive requests, one paced stream at a time.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(tcp::socket&& s, const server_options& opts, live_defaults& defaults, stats& st)
      : stream_(std::move(s)),
        opts_(opts),
        defaults_(defaults),
        stats_(st),
        timer_(stream_.get_executor()) {
    stats_.connection_opened();
  }
  ~connection() {
    if (streaming_) end_stream(false);
    set_busy(false);
    stats_.connection_closed();
  }

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, req_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->close();
                       self->handle();
                     });
  }

  void respond(http::status status, std::string body, const char* type = "application/json") {
    auto res = std::make_shared<http::response<http::string_body>>(status, req_.version());
    res->set(http::field::content_type, type);
    if (status == http::status::too_many_requests)
      res->set(http::field::retry_after, std::to_string(b_.retry_after));
    res->keep_alive(req_.keep_alive());
    res->body() = std::move(body);
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t n) {
                        self->stats_.bytes_sent.fetch_add(n, std::memory_order_relaxed);
                        if (ec || !res->keep_alive()) return self->close();
                        self->read();
                      });
  }

  void handle() {
    auto target = std::string{req_.target()};
    if (target == "/stats" && req_.method() == http::verb::get)
      return respond(http::status::ok, stats_.to_json());
    if (target == "/stats/reset" && req_.method() == http::verb::post) {
      stats_.reset();
      return respond(http::status::ok, stats_.to_json());
    }
    if (target == "/behaviour" && req_.method() == http::verb::get)
      return respond(http::status::ok, json{{"behaviour", defaults_.spec()}}.dump());
    if (target == "/behaviour" && req_.method() == http::verb::post) {
      if (auto err = defaults_.set(req_.body()))
        return respond(http::status::bad_request,
                       error_body(*err, "invalid_request_error", "bad_fake_spec"));
      return respond(http::status::ok, json{{"behaviour", defaults_.spec()}}.dump());
    }
    stats_.requests_total.fetch_add(1, std::memory_order_relaxed);
    if (target == "/v1/models" && req_.method() == http::verb::get)
      return respond(
          http::status::ok,
          R"({"object":"list","data":[{"id":"fake","object":"model","owned_by":"fake-upstream"}]})");
    bool zhipu = target.rfind("/api/paas/v3/model-api/", 0) == 0 && target.size() > 11 &&
                 target.substr(target.size() - 11) == "/sse-invoke";
    if (!zhipu && target != "/v1/chat/completions")
      return respond(http::status::not_found,
                     error_body("no such path: " + target, "invalid_request_error", "not_found"));
    if (req_.method() != http::verb::post)
      return respond(http::status::method_not_allowed,
                     error_body("use POST", "invalid_request_error", "method_not_allowed"));
    start(zhipu);
  }

  void start(bool zhipu_path) {
    b_ = defaults_.get();
    sent_ = 0;  // a keep-alive connection serves one stream after another
    auto body = json::parse(req_.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return respond(http::status::bad_request,
                     error_body("body is not JSON", "invalid_request_error", "invalid_json"));
    model_ = body.value("model", std::string{"fake"});
    if (zhipu_path) {
      auto t = std::string{req_.target()};
      auto from = std::string{"/api/paas/v3/model-api/"}.size();
      model_ = t.substr(from, t.size() - 11 - from);
      b_.zhipu_legacy = true;
    }
    auto err = apply_model_suffix(model_, b_);
    if (!err) err = apply_spec(req_["X-Fake"], ';', b_);
    if (err)
      return respond(http::status::bad_request,
                     error_body(*err, "invalid_request_error", "bad_fake_spec"));
    if (!opts_.require_key.empty() &&
        req_[http::field::authorization] != "Bearer " + opts_.require_key)
      // Echoes what it was sent, as some real providers do (partly): the gateway must
      // never pass this text on.
      return respond(
          http::status::unauthorized,
          error_body("Incorrect API key provided: " + std::string{req_[http::field::authorization]},
                     "invalid_request_error", "invalid_api_key"));
    shape_ = shaped_options(b_, body);
    shaped_.reset();
    stream_flag_ = body.value("stream", false) || zhipu_path;
    include_usage_ = body.contains("stream_options") && body["stream_options"].is_object() &&
                     body["stream_options"].value("include_usage", false);
    // From here until the response is complete, a client that leaves is an abort.
    set_busy(true);
    watch_peer();
    after(b_.first_byte_ms, [self = shared_from_this()] { self->first_byte(); });
  }

  void first_byte() {
    if (b_.status != 200 || !stream_flag_) {
      set_busy(false);  // a plain response: the ordinary read/write path takes over
      cancel_watch();
    }
    if (b_.status != 200) {
      auto s = static_cast<http::status>(b_.status);
      auto message = "fake status " + std::to_string(b_.status);
      if (b_.echo_key_at) {
        // Some providers quote the key they were sent: here at a chosen character, so a test
        // can put it across any cut the gateway makes.
        auto auth = std::string{req_[http::field::authorization]};
        if (auth.rfind("Bearer ", 0) == 0) auth.erase(0, 7);
        message.resize(std::max<std::size_t>(message.size(), *b_.echo_key_at), '.');
        message.resize(*b_.echo_key_at);
        message += auth + " is not allowed here";
      }
      return respond(
          s, error_body(message, b_.status >= 500 ? "server_error" : "invalid_request_error",
                        "fake_status", b_.nest.value_or(0)));
    }
    if (!stream_flag_ && shape_)
      return respond(http::status::ok, shaped_completion(*shape_, b_, model_));
    if (!stream_flag_) {
      json j{{"id", "chatcmpl-fake"},
             {"object", "chat.completion"},
             {"created", 0},
             {"model", model_},
             {"choices", json::array({{{"index", 0},
                                       {"message",
                                        {{"role", "assistant"},
                                         {"content", full_text(b_.chunks, b_.chunk_size)}}},
                                       {"finish_reason", "stop"}}})},
             {"usage", usage()}};
      return respond(http::status::ok, j.dump());
    }
    streaming_ = true;
    stats_.stream_started();
    stream_.expires_never();
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
    if (shape_) {
      shaped_.emplace(*shape_, b_, model_);
      head += frame(shaped_->head());
    } else if (!b_.zhipu_legacy) {
      head += frame(data(R"({"role":"assistant","content":""})", nullptr));
    }
    write(std::move(head), [self = shared_from_this()] { self->next_chunk(); });
  }

  json usage() const {
    std::uint64_t tokens = shaped_ ? shaped_->completion_tokens() : b_.chunks;
    return {{"prompt_tokens", 1}, {"completion_tokens", tokens}, {"total_tokens", tokens + 1}};
  }

  // An OpenAI chunk's `data:` line with the given delta JSON and finish reason.
  std::string data(const std::string& delta, const char* finish) const {
    return "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":0,"
           "\"model\":" +
           json(model_).dump() + ",\"choices\":[{\"index\":0,\"delta\":" + delta +
           ",\"finish_reason\":" + (finish ? json(finish).dump() : "null") + "}]}\n\n";
  }

  static std::string frame(const std::string& payload) {
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
    return size + payload + "\r\n";
  }

  std::string content_event(std::uint32_t i) const {
    auto text = chunk_text(i, b_.chunk_size);
    // The text is ASCII with nothing to escape, so its JSON string is the text in quotes; the
    // invalid byte goes into the raw bytes, where no JSON library would put it.
    auto quoted = json(text).dump();
    if (b_.invalid_utf8 && text.size() >= 2) {
      text[text.size() - 2] = '\xff';
      quoted[text.size() - 1] = '\xff';
    }
    if (b_.zhipu_legacy) return "event: add\nid: " + std::to_string(i) + "\ndata: " + text + "\n\n";
    return data("{\"content\":" + quoted + "}", nullptr);
  }

  void next_chunk() {
    if (!streaming_) return;
    auto i = sent_;
    if (b_.drop_after && i == *b_.drop_after) return drop();
    if (b_.stall_after && i == *b_.stall_after) return;  // silent until the client leaves
    if (b_.error_after && i == *b_.error_after)
      return finish(b_.zhipu_legacy ? "event: error\ndata: fake mid-stream failure\n\n"
                                    : "data: " +
                                          error_body("fake mid-stream failure", "server_error",
                                                     "fake_error", b_.nest.value_or(0)) +
                                          "\n\n");
    // A clean end of the body with neither finish_reason nor [DONE]: a cut stream.
    if (b_.end_after && i == *b_.end_after) return finish("");
    if (shaped_ ? shaped_->done() : i == b_.chunks) return finish(ending());
    std::string payload;
    if (b_.malformed_after && i == *b_.malformed_after) payload += "data: {not json\n\n";
    payload += shaped_ ? shaped_->next_event() : content_event(i);
    if (b_.huge_line && i == 1) payload += "data: " + std::string(*b_.huge_line, 'x') + "\n\n";
    ++sent_;
    write(frame(payload), [self = shared_from_this()] {
      self->after(self->b_.interval_ms, [self] { self->next_chunk(); });
    });
  }

  std::string ending() const {
    if (b_.zhipu_legacy)
      return "event: finish\nid: " + std::to_string(b_.chunks) +
             "\ndata: \nmeta: " + json{{"usage", usage()}}.dump() + "\n\n";
    // A shaped answer's choices ended with their own last pieces.
    auto out = shaped_ ? std::string{} : data("{}", "stop");
    if (include_usage_)
      out += "data: " +
             json{{"id", "chatcmpl-fake"}, {"object", "chat.completion.chunk"}, {"created", 0},
                  {"model", model_},       {"choices", json::array()},          {"usage", usage()}}
                 .dump() +
             "\n\n";
    if (!b_.no_done) out += "data: [DONE]\n\n";
    return out;
  }

  void finish(std::string last) {
    write((last.empty() ? std::string{} : frame(last)) + "0\r\n\r\n", [self = shared_from_this()] {
      self->set_busy(false);
      self->end_stream(true);
      self->cancel_watch();
      if (self->req_.keep_alive())
        self->read();
      else
        self->close();
    });
  }

  void drop() {
    set_busy(false);
    end_stream(false);
    beast::error_code ec;
    stream_.socket().set_option(net::socket_base::linger(true, 0), ec);  // RST, no terminator
    close();
  }

  void set_busy(bool busy) {
    if (busy == busy_) return;
    busy_ = busy;
    if (busy)
      stats_.request_opened();
    else
      stats_.request_closed();
  }

  void end_stream(bool completed) {
    if (!streaming_) return;
    streaming_ = false;
    if (completed) stats_.streams_completed.fetch_add(1, std::memory_order_relaxed);
    stats_.stream_ended();
  }

  // While a response is pending the client sends nothing: a readable socket means it went
  // away (or reset the connection).
  void watch_peer() {
    watching_ = true;
    stream_.socket().async_wait(tcp::socket::wait_read,
                                [self = shared_from_this()](beast::error_code ec) {
                                  self->watching_ = false;
                                  if (ec == net::error::operation_aborted) return;
                                  // Bytes, not an end: a keep-alive client sent its next
                                  // request as soon as it had the last byte of this response,
                                  // before our write completion ran. That is no departure.
                                  char c;
                                  auto fd = self->stream_.socket().native_handle();
                                  if (!ec && ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0) return;
                                  if (self->busy_) self->abort();
                                });
  }

  void cancel_watch() {
    if (!watching_) return;
    beast::error_code ec;
    stream_.socket().cancel(ec);
  }

  void abort() {
    set_busy(false);
    stats_.client_aborts.fetch_add(1, std::memory_order_relaxed);
    end_stream(false);
    close();
  }

  template <class F>
  void write(std::string bytes, F next) {
    auto buf = std::make_shared<std::string>(std::move(bytes));
    net::async_write(stream_.socket(), net::buffer(*buf),
                     [self = shared_from_this(), buf, next](beast::error_code ec, std::size_t n) {
                       self->stats_.bytes_sent.fetch_add(n, std::memory_order_relaxed);
                       if (ec) {
                         if (self->busy_) self->abort();
                         return;
                       }
                       next();
                     });
  }

  template <class F>
  void after(std::uint32_t ms, F f) {
    if (ms == 0) return f();
    timer_.expires_after(std::chrono::milliseconds(ms));
    timer_.async_wait([f](beast::error_code ec) {
      if (!ec) f();
    });
  }

  void close() {
    beast::error_code ec;
    timer_.cancel();
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  const server_options& opts_;
  live_defaults& defaults_;
  stats& stats_;
  net::steady_timer timer_;
  behaviour b_;
  std::string model_;
  std::optional<answer_options> shape_;  // a shaped answer (shaped_answer.hpp), or plain text
  std::optional<shaped_stream> shaped_;
  bool stream_flag_ = false;
  bool include_usage_ = false;
  bool streaming_ = false;
  bool busy_ = false;  // a request is being answered (delayed or streaming)
  bool watching_ = false;
  std::uint32_t sent_ = 0;
};

}  // namespace

struct fake_server::impl {
  server_options opts;
  live_defaults defaults{opts.defaults};
  stats counters;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;

  explicit impl(server_options o) : opts(std::move(o)), ioc(static_cast<int>(opts.threads)) {}

  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) {
        s.set_option(tcp::no_delay(true), ec);
        std::make_shared<connection>(std::move(s), opts, defaults, counters)->run();
      }
      accept();
    });
  }
};

fake_server::fake_server(server_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}

fake_server::~fake_server() {
  stop();
}

void fake_server::start() {
  auto& d = *impl_;
  tcp::endpoint ep{net::ip::make_address(d.opts.host), d.opts.port};
  d.acceptor.open(ep.protocol());
  d.acceptor.set_option(net::socket_base::reuse_address(true));
  d.acceptor.bind(ep);
  d.acceptor.listen(net::socket_base::max_listen_connections);
  d.accept();
  for (unsigned i = 0; i < std::max(1u, d.opts.threads); ++i)
    d.threads.emplace_back([&d] { d.ioc.run(); });
}

std::uint16_t fake_server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void fake_server::stop() {
  auto& d = *impl_;
  if (d.threads.empty()) return;
  d.ioc.stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
}

const stats& fake_server::counters() const {
  return impl_->counters;
}

}  // namespace streamgate::fake
