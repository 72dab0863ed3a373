#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace streamgate {

struct sse_event {
  std::string event;  // empty means "message"
  std::string data;   // data lines joined by '\n'
  std::string id;
  std::string meta;  // Zhipu's legacy API puts usage on a non-standard `meta:` line
};

// Incremental Server-Sent Events parser (WHATWG rules): bytes may arrive split anywhere, even
// inside a line end or a UTF-8 sequence, since it only ever splits on '\r' and '\n'. Lines
// end with "\n", "\r\n" or "\r". Bounded: a line or event over the limit puts the parser in
// a failed state instead of buffering without end.
class sse_parser {
 public:
  explicit sse_parser(std::size_t max_event_bytes = 1 << 20) : max_event_(max_event_bytes) {}

  // Returns false once the input exceeded the bound (and stays failed).
  bool feed(std::string_view bytes, const std::function<void(sse_event&)>& on_event);

  // The body ended. WHATWG drops an unterminated event; we dispatch it, because some
  // providers end with "data: [DONE]" and no blank line, and the decoder decides anyway.
  void end(const std::function<void(sse_event&)>& on_event);

 private:
  void line_done(std::string_view line, const std::function<void(sse_event&)>& on_event);

  std::size_t max_event_;
  std::string line_;  // a line cut by the end of a read, until its end arrives
  sse_event current_;
  std::size_t event_bytes_ = 0;
  bool has_fields_ = false;
  bool has_data_ = false;
  bool after_cr_ = false;
  bool failed_ = false;
};

}  // namespace streamgate
