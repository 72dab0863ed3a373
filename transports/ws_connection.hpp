#pragma once

#include "actors/event_sink.hpp"
#include "transports/api_handler.hpp"
#include "transports/server_context.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <deque>
#include <map>
#include <memory>
#include <string>

namespace streamgate {

template <class>
class strand_sink;

namespace ws {
struct command;
}

// Takes over an upgraded HTTP connection and runs the WebSocket protocol on it
// (docs/protocol.md): many streams per socket, cancel, resume, heartbeats. With
// `over_limit` it completes the handshake only to close with 1013 (try again later).
void start_websocket(boost::beast::tcp_stream&& stream, http_request&& upgrade,
                     std::shared_ptr<server_context> ctx, bool over_limit);

// One WebSocket client. Each of its streams is a session with its own sink; frames go out
// through one bounded queue. Lifetime by shared_from_this; everything runs on the strand.
class ws_connection : public std::enable_shared_from_this<ws_connection> {
 public:
  // An `over_limit` connection only says 1013 and goes: it counts as refusing, not as open.
  ws_connection(boost::beast::tcp_stream&& stream, std::shared_ptr<server_context> ctx,
                bool over_limit);
  ~ws_connection();

  void run(http_request upgrade);

  // The strand its sinks post to.
  boost::asio::any_io_executor executor() { return ws_.get_executor(); }
  // Frames go through Beast's writer, which also sends pongs and the close frame from inside
  // its read: only the strand may drive it, so every event is posted.
  static constexpr bool writes_inline = false;

  // Called on the strand by a stream's sink.
  void on_event(const event_sink* from, const event_ptr& ev);
  void on_attached(const event_sink* from, std::uint64_t last_seq, bool ended);
  void on_detached(const event_sink* from, detach_reason why);

 private:
  using sink_type = strand_sink<ws_connection>;
  struct stream {
    std::string session;
    std::shared_ptr<sink_type> sink;
    bool replaying = false;  // a resume's log replay is still arriving: a burst, not slowness
  };

  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t);
  void handle(ws::command cmd);
  bool admit(const std::string& id);
  std::shared_ptr<sink_type> add_stream(const std::string& id, const std::string& session);
  void end_stream(const std::string& id);
  void start(ws::command& cmd);
  void resume(ws::command& cmd);
  void cancel(const std::string& id);
  const std::string* stream_of(const event_sink* sink) const;

  void send(std::string frame);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t);
  void close_with(boost::beast::websocket::close_code code, const char* reason);
  void failed(boost::beast::error_code ec);
  void drop(const char* reason);
  void release();
  void arm_heartbeat();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<server_context> ctx_;
  const bool over_limit_;
  std::map<std::string, stream> streams_;
  std::deque<std::string> out_;
  std::size_t out_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;  // a close frame is queued behind the writes
  boost::beast::websocket::close_reason close_reason_;
  bool released_ = false;
  boost::asio::steady_timer heartbeat_;
};

}  // namespace streamgate
