#pragma once

// The shape of a made-up answer, the same for the built-in mock provider and the fake
// upstream: per choice a reasoning phase, then either content tokens or parallel tool calls
// whose arguments come in many fragments, then the choice's finish_reason; the choices
// interleaved. Deterministic, so a test can compute every text it expects.
// No CAF and no JSON library here: both a provider and a plain tool use it.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace streamgate {

struct answer_options {
  std::uint32_t choices = 1;            // the request's `n`
  std::uint32_t reasoning_tokens = 0;   // reasoning_content pieces before the answer
  std::uint32_t tool_calls = 0;         // parallel tool calls instead of text (0: text)
  std::uint32_t tool_fragments = 4;     // argument fragments per tool call (at least 1)
  std::uint32_t content_tokens = 16;    // text pieces when there is no tool call
  std::vector<std::string> tool_names;  // call k calls tool_names[k % size]; empty: get_weather
  std::string subject;       // the user's words the arguments are derived from ("" : Paris)
  std::string content_lead;  // non-empty: a first text piece (e.g. a tool's result)
  std::uint32_t argument_padding = 0;  // extra bytes inside each call's arguments (big inputs)
  // The text of content token `i` of choice `c`; unset: answer_token(c + i).
  std::function<std::string(std::uint32_t c, std::uint32_t i)> content_token;
};

enum class piece_kind : std::uint8_t {
  reasoning,  // text: a reasoning_content piece
  content,    // text: a content piece
  tool_call,  // the first fragment of call `tool`: id, function name (text), arguments ""
  arguments,  // text: the next piece of call `tool`'s arguments
  finish,     // text: the choice's finish_reason ("tool_calls" or "stop")
};

struct answer_piece {
  piece_kind kind = piece_kind::content;
  std::uint32_t choice = 0;
  std::uint32_t tool = 0;  // tool_call, arguments: the call's index within its choice
  std::string text;
  std::string id;  // tool_call: "call_<choice>_<tool>"
};

// Hands out the pieces one at a time (an answer of 100000 tokens is never held whole).
class answer_script {
 public:
  explicit answer_script(answer_options options);

  // The next piece into `out`; false once every choice has finished.
  bool next(answer_piece& out);
  bool done() const { return step_ >= total_; }

  const answer_options& options() const { return opt_; }
  // Pieces of one choice, its finish included.
  std::uint64_t pieces_per_choice() const { return per_choice_; }
  // The usage a provider would report: every piece but the finishes.
  std::uint64_t completion_tokens() const;
  const std::string& finish_reason() const { return finish_reason_; }

 private:
  answer_options opt_;
  std::uint64_t per_choice_ = 0;
  std::uint64_t total_ = 0;
  std::uint64_t step_ = 0;
  std::string finish_reason_;
  std::vector<std::string> arguments_;  // per call index, the same for every choice
};

// Word `i` of a fixed passage, with a trailing space.
std::string answer_token(std::uint32_t i);
std::string reasoning_token(std::uint32_t i);
// Call `k`'s whole arguments: a JSON object such as {"city":"Paris","days":1}.
std::string tool_arguments(const answer_options& o, std::uint32_t k);
// The name of call `k`.
const std::string& tool_name(const answer_options& o, std::uint32_t k);
// Fragment `j` of `f` of `arguments`, cut at UTF-8 character boundaries (may be empty when
// there are more fragments than characters).
std::string_view argument_fragment(std::string_view arguments, std::uint32_t j, std::uint32_t f);

// A piece as the members of an OpenAI delta (raw JSON, no braces): "content":"..",
// "reasoning_content":"..", or "tool_calls":[{...}]; "" for a finish.
std::string delta_members(const answer_piece& p);

// `s` as a JSON string, quotes included (invalid UTF-8 replaced by U+FFFD).
std::string json_quoted(std::string_view s);

// What a client holds once it joined every piece of a choice.
struct assembled_call {
  std::string id, name, arguments;
};
struct assembled_choice {
  std::string reasoning, content, finish_reason;
  std::vector<assembled_call> tool_calls;
};
std::vector<assembled_choice> assemble(const answer_options& o);

}  // namespace streamgate
