#pragma once

#include "transports/openai/openai_format.hpp"

#include <streamgate/stream_event.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace streamgate {

// The non-streaming `chat.completion` (`stream: false`), assembled from a session's pieces
// as OpenAI's own SDKs assemble a stream: per choice, content and every string member of
// the deltas (reasoning_content, refusal, ...) concatenated, tool calls put together from
// their fragments by index (id, type, name; arguments concatenated), logprobs' content
// lists joined, anything else the last value sent; each choice with its own finish_reason.
class completion_builder {
 public:
  void add(const stream_event& ev);  // deltas and usage; other kinds are ignored
  std::string render(const openai::completion_context& ctx, std::string_view finish_reason) const;
  void clear();

 private:
  struct choice_state {
    std::string content;
    nlohmann::json message = nlohmann::json::object();   // members beside role and content
    std::map<std::uint64_t, nlohmann::json> tool_calls;  // by index
    nlohmann::json extra = nlohmann::json::object();     // choice members: logprobs, ...
    std::string finish_reason;
  };

  void add_delta_members(choice_state& c, const std::string& members);
  static void merge(nlohmann::json& into, const nlohmann::json& piece);

  std::map<std::uint32_t, choice_state> choices_;
  nlohmann::json chunk_ = nlohmann::json::object();
  std::optional<stream_event> usage_;
};

}  // namespace streamgate
