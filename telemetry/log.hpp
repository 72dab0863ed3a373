#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>

// Structured logs: one JSON object per line ({"ts","level","event",...fields}) on stderr or
// a file, through spdlog's async-safe sinks. Callers pass fields as a JSON object so a log
// line is always machine-readable; secrets must never be put in a field.
namespace streamgate::log {

enum class level { trace, debug, info, warn, error, off };

// Returns false when `name` is not a level name.
bool parse_level(std::string_view name, level& out);
const char* to_string(level l);

// Configures the process-wide logger. `file` empty means stderr.
void init(level min_level, const std::string& file = {});
// Configures it to hand each line (one JSON object, no newline) to `line` instead: an
// embedding application directs the engine's log into its own.
void route_to(level min_level, std::function<void(std::string_view)> line);
void set_level(level l);
bool enabled(level l);

void write(level l, std::string_view event, nlohmann::json fields = nlohmann::json::object());

inline void debug(std::string_view ev, nlohmann::json f = nlohmann::json::object()) {
  if (enabled(level::debug)) write(level::debug, ev, std::move(f));
}
inline void info(std::string_view ev, nlohmann::json f = nlohmann::json::object()) {
  if (enabled(level::info)) write(level::info, ev, std::move(f));
}
inline void warn(std::string_view ev, nlohmann::json f = nlohmann::json::object()) {
  if (enabled(level::warn)) write(level::warn, ev, std::move(f));
}
inline void error(std::string_view ev, nlohmann::json f = nlohmann::json::object()) {
  if (enabled(level::error)) write(level::error, ev, std::move(f));
}

}  // namespace streamgate::log
