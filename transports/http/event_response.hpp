#pragma once

#include "transports/http/api_handler.hpp"
#include "transports/openai/completion_builder.hpp"
#include "transports/openai/openai_format.hpp"

#include <streamgate/stream_event.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace streamgate {

// What a session's events become on an HTTP/1.1 connection: a chunked SSE body (for HTTP/1.0
// an unchunked one, delimited by the connection's close), a long-poll
// page, or the whole answer of a non-streaming completion. Rendering only, no I/O: it keeps
// one response's bytes and state, and http_connection writes them, runs the timers and owns
// the sink.
class event_response {
 public:
  enum class kind { none, sse, collect, poll };

  // Starts a response for `session_id`. `model` and `include_usage` shape OpenAI's chunks;
  // a long poll reports events after `after_seq`.
  void start(kind k, const std::string& session_id, std::string model, bool include_usage,
             unsigned version, bool keep_alive, std::uint64_t after_seq = 0);
  // The response takes no more events: it was sent, or the connection is going.
  void stop() { kind_ = kind::none; }
  kind current() const { return kind_; }
  const std::string& session() const { return session_id_; }
  // Whether the connection may carry another request after this response: not after an
  // HTTP/1.0 stream, whose end only the connection's close can mark (1.0 has no chunking).
  bool keep_alive() const { return keep_alive_; }
  // The terminal event is rendered (or a whole response replaced the stream).
  bool done() const { return done_; }
  // Some of the response reached the writer: from now on only closing can end it early.
  bool started() const { return headers_sent_; }
  // Header lines ("Name: value\r\n") the SSE head carries besides its own (CORS).
  void extra_headers(std::string lines) { extra_headers_ = std::move(lines); }

  // Renders one event. When the event ends the exchange with a whole response instead of
  // streamed bytes (a non-streamed answer, or an SSE error before anything was sent, which
  // gets a real status), that response comes back to be sent.
  std::optional<http_response> add(const stream_event& ev);

  // SSE bytes rendered and not yet written (the status line and headers first).
  std::size_t pending_size() const { return pending_.size(); }
  // For the writer: it sends from here and erases what it sent.
  std::string& pending_bytes() { return pending_; }
  std::string take_pending();
  // A comment chunk: keeps idle proxies from cutting a slow stream.
  void keepalive();
  // Resumed after the terminal event: the client has every event; the body is `[DONE]`.
  void end_done();

  // Long poll: the page gathered so far.
  bool poll_has_events() const { return poll_has_events_; }
  bool poll_ended() const { return poll_ended_; }
  std::uint64_t poll_last_seq() const { return poll_last_seq_; }
  // The page's events, rendered, in bytes.
  std::size_t poll_size() const { return poll_events_.size(); }
  // The replay is complete; `ended`: the session has ended.
  void poll_replayed(bool ended) { poll_ended_ = ended; }
  http_response poll_page() const;

 private:
  std::optional<http_response> add_sse(const stream_event& ev);
  std::optional<http_response> collect(const stream_event& ev);
  void add_poll(const stream_event& ev);
  void write_headers_if_needed();
  void append_chunk(std::string_view data);
  void end_body();
  // Whether choice `choice`'s first piece is still to come (it carries the role); marks it sent.
  bool take_role(std::uint32_t choice);

  kind kind_ = kind::none;
  std::string session_id_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  openai::completion_context completion_;
  std::string delta_head_;  // SSE: every delta chunk's text before its content (no role)
  std::string frame_;       // SSE: the event being rendered, kept for its capacity
  bool include_usage_ = false;
  std::vector<bool> role_sent_;  // by choice
  bool headers_sent_ = false;
  std::string extra_headers_;
  bool done_ = false;
  std::string pending_;           // SSE: rendered bytes not yet taken
  completion_builder collected_;  // stream: false
  std::string poll_events_;       // JSON array elements for a long poll
  std::uint64_t poll_last_seq_ = 0;
  bool poll_has_events_ = false;
  bool poll_ended_ = false;
};

}  // namespace streamgate
