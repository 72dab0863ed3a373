#pragma once

#include "transports/api_handler.hpp"
#include "transports/server_context.hpp"
#include "transports/socket_writer.hpp"
#include "transports/ws_frame_parser.hpp"

#include <streamgate/event_sink.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

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

// One WebSocket client. Each of its streams is a session with its own sink. Every frame
// (a token, a pong, a close) goes out through one byte queue, in the order it was queued.
// Lifetime by shared_from_this. Every member runs on the connection's strand with `mu_` held,
// except deliver_now, which a session's delivering thread calls: it frames and sends a
// token itself when `mu_` is free, and otherwise leaves the token to be posted.
class ws_connection : public std::enable_shared_from_this<ws_connection> {
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
  using sink_type = strand_sink<ws_connection>;
  struct stream {
    std::string session;
    std::shared_ptr<sink_type> sink;
    bool replaying = false;  // a resume's log replay is still arriving
    // The replay stopped after this seq with the client's budget half used; it goes on with
    // a new attach once the client has read (flush). The sink's later events are stale.
    std::optional<std::uint64_t> paused_after;
  };

  // Reading: frames in, commands out.
  void do_read();
  void on_readable(boost::system::error_code ec);
  void on_bytes(const char* data, std::size_t size);
  void on_message(ws::client_message& m);
  void handle(ws::command cmd);

  // Streams.
  bool admit(const std::string& id);
  std::shared_ptr<sink_type> add_stream(const std::string& id, const std::string& session);
  bool attach_stream(const std::string& id, std::uint64_t after);
  void pause_replay(stream& s, std::uint64_t after);
  void continue_replays();
  void end_stream(const std::string& id);
  void start(ws::command& cmd);
  void resume(ws::command& cmd);
  void cancel(const std::string& id);
  using stream_entry = std::map<std::string, stream>::value_type;
  stream_entry* stream_of(const event_sink* sink) const;

  // Writing: frames queue in pending_, and writer_ sends them.
  void send(const std::string& message);
  void queue_frame(ws::opcode op, std::string_view payload);
  bool within_budget();
  bool over_pending_limit() const;
  std::size_t unsent() const { return pending_.size() + writer_.in_flight(); }
  void flush(bool on_strand = true);
  void write_in_flight();
  void on_flushed(boost::system::error_code ec, std::size_t);
  void arm_write_timeout();
  void close_with(ws::close_code code, const char* reason);
  void drop(const char* reason);
  void release();
  void arm_heartbeat();
  void arm_ping();

  std::unique_lock<std::mutex> guard() { return std::unique_lock<std::mutex>(mu_); }
  template <class Fn>
  void post_guarded(Fn fn);

  std::mutex mu_;  // held by every handler, and by deliver_now (see above)
  boost::asio::ip::tcp::socket socket_;
  ws::frame_parser parser_;
  std::shared_ptr<server_context> ctx_;
  const bool over_limit_;
  client_identity who_;  // set by run, before any message is read
  std::map<std::string, stream> streams_;
  // Which stream a sink feeds: looked up for every token, on sockets of up to
  // ws_max_streams streams. A map's entries stay where they are until erased, and
  // end_stream and release forget a sink here first.
  std::unordered_map<const event_sink*, stream_entry*> ids_;
  std::string pending_;  // framed, not yet handed to the socket
  std::string scratch_;  // a token's text before it is framed (deliver_now)
  socket_writer writer_;
  bool closing_ = false;                 // our close frame is queued: nothing follows it
  bool peer_closed_ = false;             // the client's close frame arrived
  bool released_ = false;                // the streams are let go
  bool closed_ = false;                  // the socket is closed
  bool heard_ = true;                    // bytes arrived since the last ping tick
  bool pinged_ = false;                  // a ping is unanswered
  boost::asio::steady_timer heartbeat_;  // app-level heartbeat frames
  boost::asio::steady_timer ping_;       // protocol pings, and the bound on a closing handshake
  boost::asio::steady_timer write_deadline_;  // the write under way must complete by then
};

}  // namespace streamgate
