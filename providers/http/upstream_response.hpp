#pragma once

#include "providers/http/provider_config.hpp"
#include "providers/http/sse_parser.hpp"
#include "providers/http/stream_decoder.hpp"

#include <streamgate/stream_event.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace streamgate {

// What one upstream HTTP response means for the client's stream. The curl driver feeds it
// header lines and body bytes on its thread; it has no I/O of its own, so every upstream
// fault (status codes, bounds, malformed or cut streams) is unit-testable without a socket.
// It emits at most one terminal event, however the response ends.
class upstream_response {
 public:
  upstream_response(adapter_kind adapter, std::size_t max_body_bytes, std::size_t max_line_bytes,
                    secret key = {});

  // One raw header line as received, status line included ("HTTP/1.1 429 ...\r\n").
  void on_header(std::string_view line);

  // Body bytes. Returns false when the transfer should be aborted now: a bound was crossed
  // or the stream failed. (A clean finish returns true: the rest of the body is drained so
  // the connection can be reused.)
  bool on_body(std::string_view bytes, std::vector<stream_event>& out);

  // The body ended cleanly (the transfer completed).
  void on_complete(std::vector<stream_event>& out);

  // The transfer failed with a transport-level outcome (connect failure, timeout, reset).
  // A reset after the response started becomes upstream_interrupted unless `code` is a
  // timeout, which keeps its own code.
  void on_failure(std::string_view code, std::string message, std::vector<stream_event>& out);

 private:
  void emit_terminal(stream_event ev, std::vector<stream_event>& out);
  void pass_on(std::vector<stream_event>& events, std::vector<stream_event>& out);
  stream_event error_for_status() const;
  void json_answer(std::vector<stream_event>& out) const;

  std::unique_ptr<stream_decoder> decoder_;
  sse_parser parser_;
  std::size_t max_body_;
  secret key_;
  long status_ = 0;
  std::uint32_t retry_after_s_ = 0;
  std::size_t body_bytes_ = 0;
  std::string error_body_;  // the body of a non-2xx (bounded) or a JSON (max_body) response
  // What the decoder made of the latest body bytes; kept, so a chunk costs no allocation.
  std::vector<stream_event> decoded_;
  bool json_body_ = false;  // Content-Type: application/json rather than an event stream
  bool done_ = false;
  bool failed_ = false;
};

// "Retry-After" as whole seconds from now: delta-seconds or an HTTP-date; 0 if unparseable.
// Capped at an hour, so a hostile value cannot park a provider forever.
std::uint32_t parse_retry_after(std::string_view value, std::int64_t now_s);

// The human-readable message of a provider's error body ({"error":{"message":...}} and the
// common variants), or its first bytes as text; never longer than a few hundred bytes, and
// scrubbed of `key` before it is cut.
std::string provider_message(std::string_view body, const secret& key = {});

}  // namespace streamgate
