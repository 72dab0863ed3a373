#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace streamgate::fake {

// How the fake upstream answers one request: defaults from flags, overridden per request by
// the header `X-Fake: key=value;key=value` and/or a model suffix `model@key=value,key=value`.
struct behaviour {
  std::uint32_t chunks = 16;
  std::uint32_t chunk_size = 8;
  std::uint32_t interval_ms = 0;
  std::uint32_t first_byte_ms = 0;
  std::uint32_t status = 200;  // non-200: reply at once with an OpenAI error body
  std::uint32_t retry_after = 1;
  std::optional<std::uint32_t> drop_after;       // close the socket abruptly after n chunks
  std::optional<std::uint32_t> stall_after;      // go silent after n chunks, keep the socket
  std::optional<std::uint32_t> malformed_after;  // one broken `data:` line after n chunks
  std::optional<std::uint32_t> error_after;      // a mid-stream error object, then end
  std::optional<std::uint32_t> end_after;        // end the body cleanly, no finish, no [DONE]
  std::optional<std::uint32_t> huge_line;        // one data line this long after chunk 1
  std::optional<std::uint32_t> nest;             // error objects carry arrays this deep
  std::optional<std::uint32_t> echo_key_at;      // a `status` message echoes the key from here
  // Answer shapes (providers/answer_script.hpp); any of them makes the answer "shaped".
  std::uint32_t reasoning = 0;                 // reasoning_content chunks before the answer
  std::optional<std::uint32_t> tool_calls;     // parallel tool calls (default: from `tools`)
  std::optional<std::uint32_t> fragments;      // argument fragments per tool call
  std::optional<std::uint32_t> n;              // choices (default: the body's `n`)
  std::uint32_t pad_arguments = 0;             // extra bytes in each call's arguments
  std::optional<std::uint32_t> bad_tool_call;  // the N-th tool-call chunk's tool_calls is no array
  std::optional<std::uint32_t> delta_not_object;  // the N-th answer chunk's delta is a string
  bool no_done = false;                           // finish_reason but no [DONE]
  bool invalid_utf8 = false;                      // 0xff 0xfe inside each chunk
  bool zhipu_legacy = false;                      // event: add / finish format
};

// Applies "k=v<sep>k=v..." to `b`; returns an error message for an unknown key or bad value.
std::optional<std::string> apply_spec(std::string_view spec, char separator, behaviour& b);

// Splits "model@k=v,k=v" into the model name and applies the suffix.
std::optional<std::string> apply_model_suffix(std::string& model, behaviour& b);

// The content of chunk `i`: "tok<i> " padded with '.' or cut to `size` bytes, so any client
// can compute the whole expected answer.
std::string chunk_text(std::uint32_t i, std::uint32_t size);
std::string full_text(std::uint32_t chunks, std::uint32_t size);

// The defaults every new request starts from: the flags' behaviour, replaced while the server
// runs by `POST /behaviour` (a chaos run starts and stops a 500 storm that way). Guarded by a
// mutex: read once per request, written rarely.
class live_defaults {
 public:
  explicit live_defaults(behaviour flags) : flags_(flags), current_(flags) {}
  behaviour get() const;
  // Applies `spec` ("k=v,k=v") over the flags' behaviour (an empty spec restores them);
  // returns an error message and changes nothing when the spec is bad.
  std::optional<std::string> set(std::string_view spec);
  std::string spec() const;

 private:
  mutable std::mutex mutex_;
  const behaviour flags_;
  behaviour current_;
  std::string spec_;
};

}  // namespace streamgate::fake
