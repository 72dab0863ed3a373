#pragma once

#include <cstdint>
#include <memory>
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

// What a provider sent with a piece of one choice beyond its text, passed on unchanged: each
// member list is raw, validated JSON ("k":v,"k2":v2, no braces), ready to splice into any
// transport's object. Members whose value is null are left out (null and absent mean the same
// in OpenAI's format).
struct delta_fields {
  std::string delta;          // the delta's members but role and content: tool_calls,
                              // reasoning_content, reasoning, refusal, unknown ones
  std::string choice;         // the choice's members but index, delta, finish_reason: logprobs, ...
  std::string chunk;          // the chunk's members but id, object, created, model, choices,
                              // usage: system_fingerprint, unknown ones
  std::string finish_reason;  // non-empty: this choice ends with this piece

  bool operator==(const delta_fields& o) const {
    return delta == o.delta && choice == o.choice && chunk == o.chunk &&
           finish_reason == o.finish_reason;
  }
};

// The finish_reason of a choice's last delta, or "" while it goes on.
inline const std::string& finish_reason_of(const delta_fields* f) {
  static const std::string none;
  return f ? f->finish_reason : none;
}

// Delta events are pieces of one choice (`choice`, 0 unless the request asked n > 1). Each
// choice ends with a delta whose fields carry its finish_reason; usage (when the provider
// sends it) follows the last of them, and the terminal finish event comes last. So every
// piece a client sees, the usage included, has a sequence number of its own.
struct stream_event {
  std::uint64_t seq = 0;  // assigned by the session: 1, 2, 3 ... in its log
  event_kind kind = event_kind::delta;
  // delta: content; usage: the provider's whole usage object as raw JSON (empty: render the
  // counts); finish: the first choice's finish_reason; error: human-readable message
  std::string text;
  std::string code;                 // error: stable code from error_code.hpp; empty otherwise
  usage_info usage;                 // usage only
  std::uint32_t retry_after_s = 0;  // error upstream_rate_limited: the provider's Retry-After
  std::uint32_t choice = 0;         // delta: the choice's index
  // delta: anything beyond plain text; null for plain text, which most pieces are. Shared
  // and immutable: events are copied into the log and out to every sink.
  std::shared_ptr<const delta_fields> fields;

  bool terminal() const { return is_terminal(kind); }
  // A piece the user sees (text, reasoning, a tool call's fragment), not a choice's bare end:
  // what time to first token, the gaps between tokens and the token count measure.
  bool is_output() const {
    return kind == event_kind::delta && (!text.empty() || (fields && !fields->delta.empty()));
  }

  static stream_event make_delta(std::string content) {
    stream_event e;
    e.kind = event_kind::delta;
    e.text = std::move(content);
    return e;
  }
  // The last piece of choice `choice`: no text, its finish_reason.
  static stream_event make_choice_end(std::uint32_t choice, std::string reason) {
    stream_event e;
    e.kind = event_kind::delta;
    e.choice = choice;
    auto f = std::make_shared<delta_fields>();
    f->finish_reason = std::move(reason);
    e.fields = std::move(f);
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
