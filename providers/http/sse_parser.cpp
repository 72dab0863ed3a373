#include "providers/http/sse_parser.hpp"

namespace streamgate {

bool sse_parser::feed(std::string_view bytes, const std::function<void(sse_event&)>& on_event) {
  if (failed_) return false;
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the second half of a "\r\n" split across reads
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      line_done(on_event);
      continue;
    }
    line_ += c;
    if (++event_bytes_ > max_event_) {
      failed_ = true;
      return false;
    }
  }
  return true;
}

void sse_parser::end(const std::function<void(sse_event&)>& on_event) {
  if (failed_) return;
  if (!line_.empty()) line_done(on_event);
  line_done(on_event);  // the blank line that never came
}

void sse_parser::line_done(const std::function<void(sse_event&)>& on_event) {
  if (line_.empty()) {
    // A blank line dispatches the event; one without data is dropped (WHATWG).
    if (has_data_) {
      if (!current_.data.empty() && current_.data.back() == '\n') current_.data.pop_back();
      on_event(current_);
    }
    current_ = {};
    has_fields_ = has_data_ = false;
    event_bytes_ = 0;
    return;
  }
  if (line_.front() == ':') {  // a comment, e.g. ": keep-alive"
    line_.clear();
    // Keep-alive comments between events must not add up to the event bound.
    if (!has_fields_) event_bytes_ = 0;
    return;
  }
  std::string_view line{line_};
  auto colon = line.find(':');
  auto field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  has_fields_ = true;
  if (field == "data") {
    current_.data.append(value);
    current_.data += '\n';
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string{value};
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) current_.id = std::string{value};
  } else if (field == "meta") {
    current_.meta = std::string{value};
  }  // "retry" and unknown fields are ignored
  line_.clear();
}

}  // namespace streamgate
