#pragma once

#include <cstdint>
#include <string>

namespace streamgate {

// The one event type that flows from an upstream to every transport. Transports only
// render it; providers only produce it. Terminal kinds: finish, error, cancelled.
enum class event_kind : std::uint8_t { delta, usage, finish, error, cancelled, heartbeat };

const char* to_string(event_kind k);

inline bool is_terminal(event_kind k) {
  return k == event_kind::finish || k == event_kind::error || k == event_kind::cancelled;
}

struct usage_info {
  std::uint32_t prompt_tokens = 0;
  std::uint32_t completion_tokens = 0;
  std::uint32_t total() const { return prompt_tokens + completion_tokens; }
};

struct stream_event {
  std::uint64_t seq = 0;  // assigned by the session: 1, 2, 3 ... in its log
  event_kind kind = event_kind::delta;
  std::string text;  // delta: content; finish: finish_reason; error: human-readable message
  std::string code;  // error: stable code from error_code.hpp; empty otherwise
  usage_info usage;  // usage only
  std::uint32_t retry_after_s = 0;  // error upstream_rate_limited: the provider's Retry-After

  bool terminal() const { return is_terminal(kind); }

  static stream_event make_delta(std::string content) {
    stream_event e;
    e.kind = event_kind::delta;
    e.text = std::move(content);
    return e;
  }
  static stream_event make_finish(std::string reason) {
    stream_event e;
    e.kind = event_kind::finish;
    e.text = std::move(reason);
    return e;
  }
  static stream_event make_error(std::string code, std::string message) {
    stream_event e;
    e.kind = event_kind::error;
    e.code = std::move(code);
    e.text = std::move(message);
    return e;
  }
  static stream_event make_usage(usage_info u) {
    stream_event e;
    e.kind = event_kind::usage;
    e.usage = u;
    return e;
  }
};

}  // namespace streamgate
