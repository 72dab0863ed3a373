#pragma once

#include "transports/connection/guarded_connection.hpp"
#include "transports/http/api_handler.hpp"
#include "transports/server/server_context.hpp"
#include "transports/ws/ws_frame_parser.hpp"
#include "transports/ws/ws_stream_table.hpp"

#include <streamgate/event_sink.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>

namespace streamgate {

template <class>
class strand_sink;
enum class inline_delivery;

namespace ws {
struct command;
}

// Takes over an upgraded HTTP connection and runs the WebSocket protocol on it
// (docs/protocol.md): many streams per socket, cancel, resume, heartbeats. `upgrade` is a
// valid handshake (api_handler checked it); `early` holds bytes the client sent after it.
// With `over_limit` it completes the handshake only to close with 1013 (try again later).
// With `refusal` (a close code and its reason) it completes the handshake only to close so.
struct ws_refusal {
  std::uint16_t code = 0;
  std::string reason;
};
void start_websocket(boost::asio::ip::tcp::socket&& socket, const http_request& upgrade,
                     std::string early, std::shared_ptr<server_context> ctx, bool over_limit,
                     client_identity who, ws_refusal refusal = {});

// One WebSocket client. Each of its streams is a session with its own sink (ws_stream_table).
// Every frame (a token, a pong, a close) goes out through one byte queue, in the order it was
// queued. Lifetime by shared_from_this. Every member runs on the connection's strand under
// the guard (guarded_connection), except deliver_now, which a session's delivering thread
// calls: it frames and sends a token itself when the guard is free, and otherwise leaves the
// token to be posted.
class ws_connection : public std::enable_shared_from_this<ws_connection>,
                      private guarded_connection<ws_connection> {
 public:
  // An `over_limit` connection only says 1013 and goes: it counts as refusing, not as open.
  ws_connection(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<server_context> ctx,
                bool over_limit);
  ~ws_connection();

  void run(const http_request& upgrade, std::string early, client_identity who, ws_refusal refusal);

  // The strand its sinks post to.
  boost::asio::any_io_executor executor() { return socket_.get_executor(); }
  static constexpr bool writes_inline = true;

  // Called by a stream's sink on the thread that delivers the event (see above).
  inline_delivery deliver_now(const event_sink* from, const event_ptr& ev);
  // Called on the strand by a stream's sink.
  void on_event(const event_sink* from, const event_ptr& ev);
  void on_attached(const event_sink* from, std::uint64_t last_seq, bool ended);
  void on_detached(const event_sink* from, detach_reason why);
  void on_replay_paused(const event_sink* from, std::uint64_t last_seq);

 private:
  friend class guarded_connection<ws_connection>;
  using sink_type = strand_sink<ws_connection>;
  using stream = ws_stream_table::stream;

  // Where the connection is in its life (RFC 6455's closing handshake).
  enum class phase {
    open,
    closing,  // our close frame is queued, nothing follows it; the client's answer ends it
    echoing,  // the client's close came first: our echo is queued, then the socket closes
    closed,   // every later handler does nothing
  };
  // What the client's silence means (arm_ping).
  enum class liveness {
    heard,   // bytes arrived since the last ping tick
    silent,  // none since: a ping goes out at the next tick
    pinged,  // a ping is unanswered: gone at the next tick
  };

  // Reading: frames in, commands out.
  void do_read();
  void on_readable(boost::system::error_code ec);
  void on_bytes(const char* data, std::size_t size);
  void on_message(ws::client_message& m);
  void handle(ws::command cmd);

  // Streams.
  bool admit(const std::string& id);
  std::shared_ptr<sink_type> new_sink(bool replay);
  bool attach_stream(const std::string& id, std::uint64_t after);
  void pause_replay(stream& s, std::uint64_t after);
  void continue_replays();
  void end_stream(const std::string& id);
  void start(ws::command& cmd);
  void resume(ws::command& cmd);
  void cancel(const std::string& id);

  // Writing: frames queue in pending_, and guarded_connection sends them.
  void send(const std::string& message);
  void queue_frame(ws::opcode op, std::string_view payload);
  bool within_budget();
  bool over_pending_limit() const;
  std::size_t unsent() const { return pending_.size() + in_flight(); }
  void flush(bool on_strand = true);
  void close_with(ws::close_code code, const char* reason, phase next = phase::closing);
  void drop(const char* reason);
  void release();
  void arm_heartbeat();
  void arm_ping();

  // What guarded_connection asks of a connection.
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  bool gone() const { return phase_ == phase::closed; }
  void on_write_failed() { drop(nullptr); }
  void on_write_timeout();
  void on_written() { flush(); }

  boost::asio::ip::tcp::socket socket_;
  ws::frame_parser parser_;
  std::shared_ptr<server_context> ctx_;
  const int loop_;  // the server's I/O loop it lives on
  const bool over_limit_;
  client_identity who_;  // set by run, before any message is read
  phase phase_ = phase::open;
  liveness liveness_ = liveness::heard;
  ws_stream_table streams_;
  std::string pending_;                  // framed, not yet handed to the socket
  std::string scratch_;                  // a token's text before it is framed (deliver_now)
  boost::asio::steady_timer heartbeat_;  // app-level heartbeat frames
  boost::asio::steady_timer ping_;       // protocol pings, and the bound on a closing handshake
};

}  // namespace streamgate
