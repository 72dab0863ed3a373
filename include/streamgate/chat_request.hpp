#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace streamgate {

// Per-request shape of the built-in mock provider's stream (extension field `mock`), so tests
// and benchmarks can ask for a particular stream without reconfiguring the server.
struct mock_shape {
  std::optional<std::uint32_t> tokens;
  std::optional<std::uint32_t> first_token_ms;
  std::optional<std::uint32_t> interval_ms;
  std::optional<std::uint32_t> reasoning_tokens;  // reasoning_content pieces before the answer
  std::optional<std::uint32_t> tool_calls;        // parallel tool calls (0: answer in text)
  std::optional<std::uint32_t> tool_fragments;    // argument fragments per tool call
};

// Bounds of the `mock` knobs and of `n` (400 invalid_request beyond them).
inline constexpr std::uint32_t max_mock_tokens = 100000;
inline constexpr std::uint32_t max_mock_tool_calls = 64;
inline constexpr std::uint32_t max_mock_tool_fragments = 1000;
inline constexpr std::uint32_t max_choices = 128;

// A validated OpenAI chat completion request. Parsed once, at the edge; everything behind
// the transports works with this value, never with raw bytes.
struct chat_request {
  std::string model;
  bool stream = false;
  bool include_usage = false;
  std::uint32_t choices = 1;  // `n`, passed on to providers unchanged
  mock_shape mock;
  std::uint32_t prompt_tokens = 0;  // rough estimate for the mock's usage figures
  nlohmann::json body;              // the client's request, for providers to forward
  // Not from the client: the I/O loop its connection lives on (the HTTP server's), where the
  // upstream transfer is placed so that a token is read and written on one thread. -1: any.
  int io_loop = -1;
};

// Longer model names are refused (400 invalid_request): no provider has one, and the name is
// echoed in errors and used as a metric label.
inline constexpr std::size_t max_model_bytes = 256;

struct request_error {
  std::string code;  // error_code::invalid_json or invalid_request
  std::string message;
  std::string param;  // the offending field, when there is one
};

using parse_result = std::variant<chat_request, request_error>;

// Bytes from a client: JSON nested deeper than max_json_depth (actors/json_input.hpp) is
// refused before any tree is built.
parse_result parse_chat_request(std::string_view body);
// A request already parsed with that bound (the `request` of a WebSocket start message).
parse_result check_chat_request(nlohmann::json body);

// The last user message's text, which the mock provider may echo.
std::string last_user_text(const chat_request& req);

}  // namespace streamgate
