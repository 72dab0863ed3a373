#pragma once

#include "transports/connection/guarded_connection.hpp"
#include "transports/connection/stream_feed.hpp"
#include "transports/http/api_handler.hpp"
#include "transports/http/event_response.hpp"
#include "transports/server/server_context.hpp"

#include <streamgate/event_sink.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include <memory>
#include <optional>
#include <string>

namespace streamgate {

template <class>
class strand_sink;
struct ws_refusal;
enum class inline_delivery;

// One client TCP connection speaking HTTP/1.1: keep-alive requests, and responses that stream
// a session's events (SSE), wait for them (long poll) or collect them (stream: false); what
// those responses say is event_response's, when and how they are written is this class's.
// Requests and plain responses are in http_connection.cpp, streaming responses in
// http_connection_stream.cpp. Lifetime by shared_from_this. Every member runs on the
// connection's strand under the guard (guarded_connection), except deliver_now, which a
// session's delivering thread calls: it writes a streamed token itself when the guard is
// free, and otherwise leaves the token to be posted.
class http_connection : public std::enable_shared_from_this<http_connection>,
                        private guarded_connection<http_connection> {
 public:
  // `over_limit`: the server is at max_connections; this connection only reads one request
  // to refuse it in that request's own terms (503, or WebSocket close 1013).
  // `who`: where it comes from, and its place in that address's connection count.
  http_connection(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<server_context> ctx,
                  client_identity who, bool over_limit = false);
  ~http_connection();

  void run();

  // The strand its sinks post to.
  boost::asio::any_io_executor executor() { return stream_.get_executor(); }
  static constexpr bool writes_inline = true;

  // Called by this connection's sink on the thread that delivers the event: an SSE token is
  // rendered and sent from there when nothing else holds the connection.
  inline_delivery deliver_now(const event_sink* from, const event_ptr& ev);
  // Called on the strand by this connection's sink.
  void on_event(const event_sink* from, const event_ptr& ev);
  void on_attached(const event_sink* from, std::uint64_t last_seq, bool ended);
  void on_detached(const event_sink* from, detach_reason why);
  void on_replay_paused(const event_sink* from, std::uint64_t last_seq);

 private:
  friend class guarded_connection<http_connection>;
  using kind = event_response::kind;

  // Where the connection is in its life.
  enum class phase {
    opening,   // accepted: its first request's headers are due within header_timeout
    idle,      // kept alive between requests: it may stay quiet up to idle_timeout
    exchange,  // a request is read and answered (a streaming answer: body_.current())
    gone,      // closed, or handed over to a WebSocket: every later handler does nothing
  };
  // The peer watch: a pending wait that notices a streaming response's client leaving.
  enum class watch {
    off,
    on,
    on_then_read,  // resume_reading ran while it was pending: it reads the next request
  };

  // Requests and plain responses (http_connection.cpp).
  void do_read();
  void read_request();
  void on_header(boost::beast::error_code ec);
  void on_read(boost::beast::error_code ec, std::size_t);
  void handle(http_request req);
  bool show_key(const key_account* key);
  void admin(const api_action& action);
  void hand_over_websocket(const http_request& upgrade, bool over_limit, ws_refusal refusal);
  void send(http_response res);
  void on_sent(bool keep_alive, boost::beast::error_code ec);
  void close();
  void resume_reading();
  bool gone() const { return phase_ == phase::gone; }

  // Streaming responses (http_connection_stream.cpp): body_ renders, these do the I/O.
  void begin(kind k, const std::string& session_id, std::string model, bool include_usage,
             std::uint64_t after_seq = 0);
  void leave_stream();
  void start_chat(api_action& action);
  void resume_events(api_action& action);
  bool attach_after(std::uint64_t after);
  void pause_replay(std::uint64_t after);
  void continue_replay();
  void finish_with(http_response res);
  http_response session_not_found() const;
  void finish_poll();
  bool over_pending_limit() const;
  std::size_t unsent() const { return body_.pending_size() + in_flight(); }
  void flush_sse();
  void flush(bool on_strand = true);
  void end_stream();
  void watch_peer();
  void on_peer_watched(boost::beast::error_code ec);
  enum class peer_bytes { taken, gone, too_many };
  peer_bytes take_peer_bytes();
  void arm_keepalive();

  // What guarded_connection asks of a connection.
  boost::asio::ip::tcp::socket& socket() { return stream_.socket(); }
  void on_write_failed() { close(); }
  void on_write_timeout();
  void on_written() { flush(); }

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<server_context> ctx_;
  std::shared_ptr<http_response> response_;  // kept alive across an async write
  const int loop_;                           // the server's I/O loop it lives on
  phase phase_ = phase::opening;
  unsigned version_ = 11;
  bool keep_alive_ = true;  // the exchange's: the connection carries another request after it
  const bool over_limit_;
  client_identity who_;
  std::string cors_;  // CORS header lines for the current request's answers (api_handler)

  event_response body_;  // the streaming response, if any
  std::shared_ptr<strand_sink<http_connection>> sink_;
  stream_feed feed_;                 // a resume's replay, or live
  boost::asio::steady_timer timer_;  // SSE keep-alive or long-poll wait
  watch watch_ = watch::off;
};

}  // namespace streamgate
