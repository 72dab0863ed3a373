#pragma once

#include "actors/stream_event.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace streamgate {

// What streamgate uses of one `chat.completion.chunk`. Read in one pass that validates the
// JSON and keeps only these values, without a JSON tree or nlohmann's per-character lexer:
// the curl driver thread decodes every upstream chunk of every stream (bench_sse_parser:
// openai_decode_chunk).
struct openai_chunk {
  bool error = false;                        // a non-null top-level `error`
  std::string error_message;                 // its `message` (or the string itself); empty if none
  std::optional<std::string> content;        // choices[0].delta.content
  std::optional<std::string> finish_reason;  // choices[0].finish_reason, when a string
  std::optional<usage_info> usage;           // top-level `usage`, when an object
};

// Nothing when `data` is not one valid JSON object. `data` must be valid UTF-8.
std::optional<openai_chunk> read_openai_chunk(std::string_view data);

}  // namespace streamgate
