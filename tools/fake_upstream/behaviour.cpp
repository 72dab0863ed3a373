#include "tools/fake_upstream/behaviour.hpp"

#include "providers/answer_request.hpp"

#include <charconv>

namespace streamgate::fake {
namespace {

// Bounds of the shape keys: an answer's size stays what a test can ask for on purpose.
constexpr std::uint32_t max_fake_count = 1000;

bool parse_u32(std::string_view s, std::uint32_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

std::optional<std::string> apply_one(std::string_view key, std::string_view value, behaviour& b) {
  std::uint32_t n = 0;
  struct counted {
    std::string_view key;
    std::uint32_t behaviour::*field;
  };
  static constexpr counted plain[] = {
      {"chunks", &behaviour::chunks},           {"chunk_size", &behaviour::chunk_size},
      {"interval_ms", &behaviour::interval_ms}, {"first_byte_ms", &behaviour::first_byte_ms},
      {"status", &behaviour::status},           {"retry_after", &behaviour::retry_after},
      {"reasoning", &behaviour::reasoning},     {"pad_arguments", &behaviour::pad_arguments}};
  struct optional_counted {
    std::string_view key;
    std::optional<std::uint32_t> behaviour::*field;
  };
  static constexpr optional_counted optional[] = {
      {"drop_after", &behaviour::drop_after},
      {"stall_after", &behaviour::stall_after},
      {"malformed_after", &behaviour::malformed_after},
      {"error_after", &behaviour::error_after},
      {"end_after", &behaviour::end_after},
      {"huge_line", &behaviour::huge_line},
      {"nest", &behaviour::nest},
      {"echo_key_at", &behaviour::echo_key_at},
      {"tool_calls", &behaviour::tool_calls},
      {"fragments", &behaviour::fragments},
      {"n", &behaviour::n},
      {"bad_tool_call", &behaviour::bad_tool_call},
      {"delta_not_object", &behaviour::delta_not_object}};
  if (key == "format") {
    if (value != "zhipu_legacy" && value != "openai")
      return "format must be openai or zhipu_legacy";
    b.zhipu_legacy = value == "zhipu_legacy";
    return std::nullopt;
  }
  if (!parse_u32(value, n)) return std::string{key} + " needs a non-negative integer";
  if (key == "n" && (n < 1 || n > max_answer_choices))
    return "n must be from 1 to " + std::to_string(max_answer_choices);
  if (key == "fragments" && (n < 1 || n > max_fake_count))
    return "fragments must be from 1 to " + std::to_string(max_fake_count);
  if ((key == "tool_calls" || key == "bad_tool_call" || key == "delta_not_object") &&
      n > max_fake_count)
    return std::string{key} + " must be at most " + std::to_string(max_fake_count);
  for (auto& f : plain) {
    if (f.key == key) {
      b.*f.field = n;
      return std::nullopt;
    }
  }
  for (auto& f : optional) {
    if (f.key == key) {
      b.*f.field = n;
      return std::nullopt;
    }
  }
  if (key == "no_done") {
    b.no_done = n != 0;
    return std::nullopt;
  }
  if (key == "invalid_utf8") {
    b.invalid_utf8 = n != 0;
    return std::nullopt;
  }
  return "unknown behaviour key '" + std::string{key} + "'";
}

}  // namespace

std::optional<std::string> apply_spec(std::string_view spec, char separator, behaviour& b) {
  while (!spec.empty()) {
    auto end = spec.find(separator);
    auto item = spec.substr(0, end);
    spec = end == std::string_view::npos ? std::string_view{} : spec.substr(end + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos) return "'" + std::string{item} + "' is not key=value";
    if (auto err = apply_one(item.substr(0, eq), item.substr(eq + 1), b)) return err;
  }
  return std::nullopt;
}

std::optional<std::string> apply_model_suffix(std::string& model, behaviour& b) {
  auto at = model.find('@');
  if (at == std::string::npos) return std::nullopt;
  auto suffix = model.substr(at + 1);
  model.erase(at);
  return apply_spec(suffix, ',', b);
}

std::string chunk_text(std::uint32_t i, std::uint32_t size) {
  std::string t = "tok" + std::to_string(i);
  if (t.size() + 1 <= size) {
    t.append(size - t.size() - 1, '.');
    t += ' ';
  } else {
    t.resize(size);
  }
  return t;
}

std::string full_text(std::uint32_t chunks, std::uint32_t size) {
  std::string out;
  for (std::uint32_t i = 0; i < chunks; ++i) out += chunk_text(i, size);
  return out;
}

behaviour live_defaults::get() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return current_;
}

std::optional<std::string> live_defaults::set(std::string_view spec) {
  auto b = flags_;
  if (auto err = apply_spec(spec, ',', b)) return err;
  std::lock_guard<std::mutex> guard{mutex_};
  current_ = b;
  spec_ = std::string{spec};
  return std::nullopt;
}

std::string live_defaults::spec() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return spec_;
}

}  // namespace streamgate::fake
