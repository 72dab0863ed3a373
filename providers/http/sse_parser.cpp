#include "providers/http/sse_parser.hpp"

#include <cstring>

namespace streamgate {

namespace {

// The first '\r' or '\n' in [p, end), or end. memchr scans a word or a vector at a time;
// '\r' is rare (most providers end lines with "\n"), so it is only looked for up to the '\n'.
const char* line_end(const char* p, const char* end) {
  auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
  if (nl == nullptr) nl = end;
  auto* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(nl - p)));
  return cr != nullptr ? cr : nl;
}

}  // namespace

bool sse_parser::feed(std::string_view bytes, const std::function<void(sse_event&)>& on_event) {
  if (failed_) return false;
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  while (p < end) {
    if (after_cr_) {
      after_cr_ = false;
      if (*p == '\n') {  // the second half of a "\r\n" split across reads
        ++p;
        continue;
      }
    }
    const char* eol = line_end(p, end);
    auto n = static_cast<std::size_t>(eol - p);
    event_bytes_ += n;
    if (event_bytes_ > max_event_) {
      failed_ = true;
      return false;
    }
    if (eol == end) {  // the line goes on in the next read
      line_.append(p, n);
      break;
    }
    after_cr_ = *eol == '\r';
    if (line_.empty()) {
      line_done({p, n}, on_event);  // the whole line is in this read: no copy
    } else {
      line_.append(p, n);
      line_done(line_, on_event);
      line_.clear();
    }
    p = eol + 1;
  }
  return true;
}

void sse_parser::end(const std::function<void(sse_event&)>& on_event) {
  if (failed_) return;
  if (!line_.empty()) line_done(line_, on_event);
  line_.clear();
  line_done({}, on_event);  // the blank line that never came
}

void sse_parser::line_done(std::string_view line, const std::function<void(sse_event&)>& on_event) {
  if (line.empty()) {
    // A blank line dispatches the event; one without data is dropped (WHATWG).
    if (has_data_) {
      if (!current_.data.empty() && current_.data.back() == '\n') current_.data.pop_back();
      on_event(current_);
    }
    // Cleared, not replaced: the strings keep their capacity for the next event.
    current_.event.clear();
    current_.data.clear();
    current_.id.clear();
    current_.meta.clear();
    has_fields_ = has_data_ = false;
    event_bytes_ = 0;
    return;
  }
  if (line.front() == ':') {  // a comment, e.g. ": keep-alive"
    // Keep-alive comments between events must not add up to the event bound.
    if (!has_fields_) event_bytes_ = 0;
    return;
  }
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
    current_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) current_.id.assign(value);
  } else if (field == "meta") {
    current_.meta.assign(value);
  }  // "retry" and unknown fields are ignored
}

}  // namespace streamgate
