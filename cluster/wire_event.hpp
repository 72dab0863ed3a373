#pragma once

// A stream_event as it crosses nodes (a session served to a client on another node): plain
// fields with an inspect(), where stream_event shares its extras by pointer.

#include <streamgate/stream_event.hpp>

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>

namespace streamgate {

struct wire_event {
  std::uint64_t seq = 0;
  std::uint8_t kind = 0;
  std::string text;
  std::string code;
  std::uint32_t prompt_tokens = 0;
  std::uint32_t completion_tokens = 0;
  std::uint32_t retry_after_s = 0;
  std::uint32_t choice = 0;
  bool has_fields = false;
  std::string delta_fields;
  std::string choice_fields;
  std::string chunk_fields;
  std::string finish_reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_event& x) {
  return f(caf::meta::type_name("streamgate::wire_event"), x.seq, x.kind, x.text, x.code,
           x.prompt_tokens, x.completion_tokens, x.retry_after_s, x.choice, x.has_fields,
           x.delta_fields, x.choice_fields, x.chunk_fields, x.finish_reason);
}

wire_event to_wire(const stream_event& ev);
// Null when the kind is not one this node knows (a newer peer's): dropped, not guessed.
std::shared_ptr<const stream_event> from_wire(const wire_event& w);

}  // namespace streamgate
