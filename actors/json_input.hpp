#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace streamgate {

// How deeply arrays and objects may nest in JSON that comes from outside: client requests and
// WebSocket messages, provider answers, configuration files. nlohmann's parser is iterative,
// but copying, dumping and comparing a tree recurse once per level, so one deep value (a
// 400 KB body holds 200,000 levels) would overflow the stack of whichever thread touches it.
inline constexpr std::size_t max_json_depth = 64;

struct json_input {
  enum class status { ok, syntax_error, too_deep };
  status outcome = status::ok;
  nlohmann::json value;  // discarded unless ok

  bool ok() const { return outcome == status::ok; }
};

// Parses one JSON text (nothing but whitespace may follow it; no NUL byte anywhere). Nesting deeper
// than `max_depth` stops the parser where it is reached: no deep tree is ever built.
json_input parse_json_input(std::string_view text, std::size_t max_depth = max_json_depth);

// "<what> nests arrays or objects more than <max_depth> levels deep": the one wording of the
// refusal, wherever it is reported.
std::string too_deep_message(std::string_view what, std::size_t max_depth = max_json_depth);

}  // namespace streamgate
