#pragma once

#include "actors/event_sink.hpp"
#include "transports/api_handler.hpp"
#include "transports/openai_format.hpp"
#include "transports/server_context.hpp"

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

// One client TCP connection speaking HTTP/1.1: keep-alive requests, and responses that stream
// a session's events (SSE), wait for them (long poll) or collect them (stream: false).
// Lifetime by shared_from_this; every member runs on the connection's strand.
class http_connection : public std::enable_shared_from_this<http_connection> {
 public:
  // `over_limit`: the server is at max_connections; this connection only reads one request
  // to refuse it in that request's own terms (503, or WebSocket close 1013).
  http_connection(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<server_context> ctx,
                  bool over_limit = false);
  ~http_connection();

  void run();

  // The strand its sinks post to.
  boost::asio::any_io_executor executor() { return stream_.get_executor(); }

  // Called on the strand by this connection's sink.
  void on_event(const event_sink* from, const event_ptr& ev);
  void on_attached(const event_sink* from, std::uint64_t last_seq, bool ended);
  void on_detached(const event_sink* from, detach_reason why);

 private:
  enum class mode { idle, sse, collect, poll };

  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t);
  void handle(http_request req);
  void admin(const api_action& action);
  void send(http_response res);
  void on_sent(bool keep_alive, boost::beast::error_code ec);
  void close();
  void resume_reading();
  void leave_stream();

  // Streaming responses.
  void begin(mode m, const http_request& req, const std::string& session_id, std::string model,
             bool include_usage);
  void start_chat(api_action& action, const http_request& req);
  void resume_events(api_action& action, const http_request& req);
  void render_sse(const stream_event& ev);
  void collect(const stream_event& ev);
  void finish_poll();
  void write_headers_if_needed();
  void append_chunk(std::string_view data);
  void flush();
  void end_sse_response();
  void on_flushed(boost::beast::error_code ec, std::size_t);
  void end_stream();
  void watch_peer();
  void on_peer_watched(boost::beast::error_code ec);
  void arm_keepalive();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<server_context> ctx_;
  std::shared_ptr<http_response> response_;  // kept alive across an async write

  mode mode_ = mode::idle;
  std::shared_ptr<strand_sink<http_connection>> sink_;
  std::string session_id_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool detach_on_close_ = false;
  openai::completion_context completion_;
  bool include_usage_ = false;
  bool role_sent_ = false;
  bool headers_sent_ = false;
  bool stream_done_ = false;  // the terminal event is rendered
  bool writing_ = false;
  bool closed_ = false;
  std::string pending_;      // rendered bytes not yet handed to the socket
  std::string in_flight_;    // bytes being written
  std::string collected_;    // stream: false answer text
  std::string poll_events_;  // JSON array elements for a long poll
  std::uint64_t poll_last_seq_ = 0;
  bool poll_has_events_ = false;
  bool poll_ended_ = false;
  bool poll_attached_ = false;  // the replay of the log is complete
  bool replaying_ = false;      // a resume's log replay is arriving: a burst, not slowness
  usage_info usage_;
  bool have_usage_ = false;
  boost::asio::steady_timer timer_;  // SSE keep-alive or long-poll wait
  bool watching_ = false;
  bool read_after_watch_ = false;  // resume_reading ran while the watch was pending
  bool over_limit_ = false;
};

}  // namespace streamgate
