#pragma once

// The fake upstream's answers beyond plain text (reasoning, tool calls, several choices), made
// by the same generator as the mock provider's (providers/answer_script.hpp) and written as
// a real OpenAI-compatible server writes them.

#include "providers/answer_script.hpp"
#include "tools/fake_upstream/behaviour.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>

namespace streamgate::fake {

// The answer's shape from the request body (`n`, `tools`, a tool result last) and the
// behaviour keys, which win; nothing when it is plain text of one choice (or the legacy
// format, which has text only).
std::optional<answer_options> shaped_options(const behaviour& b, const nlohmann::json& body);

// A shaped stream's SSE events, one per piece, with the faults that concern its shape.
class shaped_stream {
 public:
  shaped_stream(answer_options o, const behaviour& b, std::string model);

  // Each choice's first chunk: its role.
  std::string head() const;
  bool done() const { return script_.done(); }
  // The `data:` event of the next piece.
  std::string next_event();
  std::uint64_t completion_tokens() const { return script_.completion_tokens(); }

 private:
  std::string event(std::uint32_t choice, const std::string& delta,
                    const std::string& finish) const;

  answer_script script_;
  std::string model_;  // as a JSON string
  std::optional<std::uint32_t> bad_tool_call_, delta_not_object_;
  std::uint32_t tool_pieces_ = 0, pieces_ = 0;
};

// The whole `chat.completion` of a shaped answer (`stream: false`): every choice with its
// message (content or tool_calls, reasoning_content) and its own finish_reason.
std::string shaped_completion(const answer_options& o, const behaviour& b,
                              const std::string& model);

}  // namespace streamgate::fake
