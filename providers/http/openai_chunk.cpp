#include "providers/http/openai_chunk.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace streamgate {
namespace {

using json = nlohmann::json;

// The keys (and array positions) that lead to a field we read; everything else is `other`.
enum class step : std::uint8_t {
  other,
  first,  // element 0 of an array
  error,
  message,
  choices,
  delta,
  content,
  finish_reason,
  usage,
  prompt_tokens,
  completion_tokens,
};

step step_of(std::string_view key) {
  static constexpr std::pair<std::string_view, step> known[] = {
      {"error", step::error},
      {"message", step::message},
      {"choices", step::choices},
      {"delta", step::delta},
      {"content", step::content},
      {"finish_reason", step::finish_reason},
      {"usage", step::usage},
      {"prompt_tokens", step::prompt_tokens},
      {"completion_tokens", step::completion_tokens},
  };
  for (auto& [name, s] : known)
    if (name == key) return s;
  return step::other;
}

// Tracks where in the document each value sits, as the steps from the root, and keeps the
// values whose path is one we read.
class chunk_handler final : public nlohmann::json_sax<json> {
 public:
  openai_chunk chunk;
  bool root_is_object = false;

  bool null() override {  // a null `error` or `finish_reason` means none
    if (!enter_scalar()) return false;
    leave_scalar();
    return true;
  }
  bool boolean(bool) override { return other_scalar(); }
  bool number_integer(number_integer_t v) override {
    return v < 0 ? other_scalar() : number(static_cast<std::uint64_t>(v));
  }
  bool number_unsigned(number_unsigned_t v) override { return number(v); }
  bool number_float(number_float_t v, const string_t&) override {
    return v < 0 ? other_scalar() : number(static_cast<std::uint64_t>(v));
  }
  bool binary(binary_t&) override { return other_scalar(); }

  bool string(string_t& v) override {
    if (!enter_scalar()) return false;
    if (at({step::error})) {
      chunk.error = true;
      chunk.error_message = v;
    } else if (at({step::error, step::message})) {
      chunk.error_message = v;
    } else if (at({step::choices, step::first, step::delta, step::content})) {
      chunk.content = std::move(v);
    } else if (at({step::choices, step::first, step::finish_reason})) {
      chunk.finish_reason = std::move(v);
    }
    leave_scalar();
    return true;
  }

  bool start_object(std::size_t) override {
    if (frames_.empty()) {
      root_is_object = true;
      frames_.push_back({false, 0, step::other});
      return true;
    }
    enter_container(false);
    if (at({step::usage})) chunk.usage = usage_info{};
    return true;
  }
  bool start_array(std::size_t) override {
    if (frames_.empty()) return false;  // the root must be an object
    enter_container(true);
    return true;
  }
  bool key(string_t& k) override {
    frames_.back().key = step_of(k);
    return true;
  }
  bool end_object() override { return leave_container(); }
  bool end_array() override { return leave_container(); }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  struct frame {
    bool array;
    std::size_t next_index;
    step key;  // objects: the key of the value being read
  };

  // The step of the value that starts now, taken from its parent.
  step next_step() {
    auto& parent = frames_.back();
    if (!parent.array) return parent.key;
    return parent.next_index++ == 0 ? step::first : step::other;
  }

  bool at(std::initializer_list<step> want) const {
    return path_.size() == want.size() && std::equal(want.begin(), want.end(), path_.begin());
  }

  void enter_container(bool array) {
    path_.push_back(next_step());
    frames_.push_back({array, 0, step::other});
    if (at({step::error})) chunk.error = true;  // an error object or array
  }
  bool leave_container() {
    frames_.pop_back();
    if (!path_.empty()) path_.pop_back();
    return true;
  }
  bool enter_scalar() {
    if (frames_.empty()) return false;  // the root must be an object
    path_.push_back(next_step());
    return true;
  }
  void leave_scalar() { path_.pop_back(); }

  bool other_scalar() {
    if (!enter_scalar()) return false;
    if (at({step::error})) chunk.error = true;
    leave_scalar();
    return true;
  }
  bool number(std::uint64_t v) {
    if (!enter_scalar()) return false;
    if (at({step::error})) chunk.error = true;
    auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(v, UINT32_MAX));
    if (at({step::usage, step::prompt_tokens})) chunk.usage->prompt_tokens = n;
    if (at({step::usage, step::completion_tokens})) chunk.usage->completion_tokens = n;
    leave_scalar();
    return true;
  }

  std::vector<frame> frames_;
  std::vector<step> path_;  // steps from the root to the value being read
};

}  // namespace

std::optional<openai_chunk> read_openai_chunk(std::string_view data) {
  chunk_handler h;
  if (!json::sax_parse(data, &h) || !h.root_is_object) return std::nullopt;
  return std::move(h.chunk);
}

}  // namespace streamgate
