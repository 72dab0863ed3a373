#pragma once

#include "actors/provider_actor.hpp"

#include <atomic>
#include <cstdint>
#include <string>

namespace streamgate {

// The built-in mock provider: a deterministic token stream with a configurable pace, so the
// gateway runs with no API key and tests and benchmarks can shape a stream per request.
// Beyond plain text (providers/answer_script.hpp, one piece per tick): `mock.reasoning_tokens`,
// `mock.tool_calls`, `mock.tool_fragments`, the request's `n`, and its `tools` (a tool call
// unless `tool_choice` is "none" or the last message is a tool's result, which the answer
// then quotes). Choice c's text token i is mock_token(c + i).
struct mock_config {
  std::uint32_t tokens = 48;
  std::uint32_t first_token_ms = 150;
  std::uint32_t interval_ms = 40;
  // Non-empty: every stream ends with this error code instead of its first token, as a broken
  // upstream would (tests and chaos runs of failover and circuit breakers).
  std::string fail;
  // With `fail`: only the first this many streams of the actor fail (0: all of them), so a
  // provider can be down for a while and then recover.
  std::uint32_t fail_first = 0;
};

// The text of token `i` (0-based): words of a fixed passage with a trailing space.
std::string mock_token(std::uint32_t i);

// The whole answer of a mock stream of `n` tokens.
std::string mock_text(std::uint32_t n);

// `upstreams` counts generators alive (the engine's active-upstream gauge).
provider_actor::behavior_type mock_provider(provider_actor::pointer self, mock_config config,
                                            std::atomic<std::int64_t>* upstreams);

}  // namespace streamgate
