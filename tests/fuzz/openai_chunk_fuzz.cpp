// The hand-written chunk reader (providers/http/openai_chunk.cpp) against nlohmann::json,
// the parser it replaced: on valid UTF-8 it must accept exactly the JSON objects nlohmann
// accepts, and read the same values from them (documents with a duplicate key excepted:
// which one counts is not defined by RFC 8259). It must refuse any text with a NUL byte,
// which nlohmann's parser takes for the end of its input and so accepts after a value.
#include "providers/http/openai_chunk.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace streamgate;
using json = nlohmann::json;

// nlohmann's tree of `text` (discarded when invalid), and whether some object repeats a key.
json parse_reference(std::string_view text, bool& duplicate_key) {
  std::vector<std::set<std::string>> keys;
  duplicate_key = false;
  auto cb = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end) keys.pop_back();
    if (event == json::parse_event_t::key && !keys.back().insert(parsed.get<std::string>()).second)
      duplicate_key = true;
    return true;
  };
  return json::parse(text, cb, false);
}

const json* find(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::uint32_t count(const json* v) {
  if (v == nullptr || !v->is_number()) return 0;
  if (v->is_number_unsigned())
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(v->get<std::uint64_t>(), UINT32_MAX));
  if (v->is_number_integer()) return 0;  // negative
  auto d = v->get<double>();
  if (!(d >= 0)) return 0;
  return d >= 4294967295.0 ? UINT32_MAX : static_cast<std::uint32_t>(d);
}

void check_same_values(const openai_chunk& got, const json& j) {
  auto* error = find(j, "error");
  bool has_error = error != nullptr && !error->is_null();
  SG_FUZZ_CHECK(got.error == has_error);
  std::string message;
  if (has_error && error->is_string()) message = error->get<std::string>();
  if (auto* m = has_error ? find(*error, "message") : nullptr; m != nullptr && m->is_string())
    message = m->get<std::string>();
  SG_FUZZ_CHECK(got.error_message == message);

  auto* choices = find(j, "choices");
  const json* first =
      choices != nullptr && choices->is_array() && !choices->empty() ? &(*choices)[0] : nullptr;
  auto* content = first != nullptr ? find(*first, "delta") : nullptr;
  content = content != nullptr ? find(*content, "content") : nullptr;
  bool has_content = content != nullptr && content->is_string();
  SG_FUZZ_CHECK(got.content.has_value() == has_content);
  if (has_content) SG_FUZZ_CHECK(*got.content == content->get<std::string>());
  auto* finish = first != nullptr ? find(*first, "finish_reason") : nullptr;
  bool has_finish = finish != nullptr && finish->is_string();
  SG_FUZZ_CHECK(got.finish_reason.has_value() == has_finish);
  if (has_finish) SG_FUZZ_CHECK(*got.finish_reason == finish->get<std::string>());

  auto* usage = find(j, "usage");
  bool has_usage = usage != nullptr && usage->is_object();
  SG_FUZZ_CHECK(got.usage.has_value() == has_usage);
  if (has_usage) {
    SG_FUZZ_CHECK(got.usage->prompt_tokens == count(find(*usage, "prompt_tokens")));
    SG_FUZZ_CHECK(got.usage->completion_tokens == count(find(*usage, "completion_tokens")));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  if (!fuzz::valid_utf8(text)) return 0;  // the decoder repairs text before it gets here
  auto got = read_openai_chunk(text);
  if (text.find('\0') != std::string_view::npos) {
    // No JSON text holds a NUL byte; nlohmann's lexer takes one for the end of the input.
    SG_FUZZ_CHECK(!got);
    return 0;
  }
  bool duplicate_key = false;
  auto reference = parse_reference(text, duplicate_key);
  bool accepted = !reference.is_discarded() && reference.is_object();
  SG_FUZZ_CHECK(got.has_value() == accepted);
  if (got && !duplicate_key) check_same_values(*got, reference);
  return 0;
}
