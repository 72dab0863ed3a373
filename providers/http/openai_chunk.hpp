#pragma once

#include <streamgate/stream_event.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace streamgate {

// One element of a chunk's `choices`.
struct openai_choice {
  std::uint32_t index = 0;    // its `index`, or its position when it has none
  std::string content;        // delta.content, when a string
  std::string finish_reason;  // when a string
  // Everything else the provider sent, as raw member lists for delta_fields (nulls left out):
  std::string delta_members;   // of the delta, but role and a string content
  std::string choice_members;  // of the choice, but index, delta and finish_reason
};

// What streamgate reads of one `chat.completion.chunk`: the values it acts on, and every other
// member as raw JSON text to pass on. Read in one pass that validates the JSON, without a JSON
// tree or nlohmann's per-character lexer: the curl driver thread decodes every upstream chunk
// of every stream (bench_sse_parser: openai_decode_chunk).
struct openai_chunk {
  bool error = false;         // a non-null top-level `error`
  std::string error_message;  // its `message` (or the string itself); empty if none
  std::vector<openai_choice> choices;
  std::string chunk_members;        // top level, but id, object, created, model, choices, usage,
                                    // error (and nulls)
  std::optional<usage_info> usage;  // top-level `usage`, when an object
  std::string usage_json;           // that object's raw text
  // Valid JSON that breaks OpenAI's shape where we rely on it (a delta or a tool call that
  // is not an object, a tool call without an index...): what is wrong, for the error event.
  const char* malformed = nullptr;
};

// Chunks nested deeper are refused: their values are re-parsed by recursive parsers later
// (the non-streaming answer, the web page).
inline constexpr std::size_t max_chunk_depth = 64;

// Reads `data` into `out`, reusing its storage. False when `data` is not one valid JSON
// object nested at most max_chunk_depth levels. `data` must be valid UTF-8.
bool read_openai_chunk(std::string_view data, openai_chunk& out);
std::optional<openai_chunk> read_openai_chunk(std::string_view data);

}  // namespace streamgate
