#pragma once

// What a made-up answer takes from an OpenAI chat request, the same for the mock provider and
// the fake upstream: how many choices, whether to call a tool (and which), and what to say
// after a tool's result.

#include "providers/answer_script.hpp"

#include <nlohmann/json_fwd.hpp>

namespace streamgate {

// Sets `o` from the request body (which may be anything: the fake upstream reads raw client
// bytes):
// - choices: `n` when it is an integer from 1 to max_answer_choices, else 1;
// - subject: the last user message's text;
// - tools: when the request has `tools`, `tool_choice` is not "none" and the last message is
//   not a tool result, one call of the tool `tool_choice` names, else of the first tool;
// - content_lead: when the last message is a tool result, a first sentence quoting it.
// Knobs a caller applies afterwards override these.
void apply_request(const nlohmann::json& body, answer_options& o);

inline constexpr std::uint32_t max_answer_choices = 128;

}  // namespace streamgate
