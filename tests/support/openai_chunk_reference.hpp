#pragma once

// What providers/http/openai_chunk.cpp's one-pass reader must read from a text, computed from
// nlohmann's full parser instead: the unit tests and the fuzz target both hold the reader to
// it. Texts with a repeated key are left out by the callers (which value counts is not
// defined by RFC 8259).

#include "providers/http/openai_chunk.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace streamgate::testing {

using reference_json = nlohmann::json;

// A JSON number as the reader counts it: a non-negative value's integer part, saturated.
inline std::optional<std::uint64_t> reference_count(const reference_json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer())
    return v.get<std::int64_t>() == 0 ? std::optional<std::uint64_t>{0} : std::nullopt;
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d < 0) return std::nullopt;
    return d >= 18446744073709551615.0 ? UINT64_MAX : static_cast<std::uint64_t>(d);
  }
  return std::nullopt;
}

inline std::uint32_t reference_token_count(const reference_json* v) {
  if (v == nullptr) return 0;
  auto n = reference_count(*v);
  return n ? static_cast<std::uint32_t>(std::min<std::uint64_t>(*n, UINT32_MAX)) : 0;
}

// A parsed text, and what the reader needs to know of how it was written.
struct parsed_text {
  reference_json value;  // discarded when not JSON
  bool duplicate_key = false;
  std::size_t depth = 0;  // of the deepest container
};

inline parsed_text parse_reference_text(std::string_view text) {
  parsed_text out;
  std::vector<std::set<std::string>> keys;
  auto cb = [&](int depth, reference_json::parse_event_t event, reference_json& parsed) {
    using ev = reference_json::parse_event_t;
    if (event == ev::object_start || event == ev::array_start)
      out.depth = std::max(out.depth, static_cast<std::size_t>(depth) + 1);
    if (event == ev::object_start) keys.emplace_back();
    if (event == ev::object_end) keys.pop_back();
    if (event == ev::key && !keys.back().insert(parsed.get<std::string>()).second)
      out.duplicate_key = true;
    return true;
  };
  out.value = reference_json::parse(text, cb, false);
  return out;
}

// The members of `obj` but `skip` and nulls, as the reader's raw lists must parse back.
inline reference_json reference_members(const reference_json& obj,
                                        std::initializer_list<const char*> skip) {
  auto out = reference_json::object();
  for (const auto& item : obj.items()) {
    // Not a structured binding: clang does not let a lambda capture one in C++17.
    const auto& key = item.key();
    if (item.value().is_null()) continue;
    if (std::any_of(skip.begin(), skip.end(), [&](const char* s) { return key == s; })) continue;
    out[key] = item.value();
  }
  return out;
}

// A raw member list (or object text) parsed back; discarded when it is not valid JSON.
inline reference_json parse_members(const std::string& list, bool braces = true) {
  return reference_json::parse(braces ? "{" + list + "}" : list, nullptr, false);
}

// Whether a tool_calls value breaks the shape the reader enforces.
inline bool reference_bad_tool_calls(const reference_json& calls) {
  if (calls.is_null()) return false;
  if (!calls.is_array()) return true;
  for (const auto& call : calls) {
    if (!call.is_object()) return true;
    auto index = call.find("index");
    if (index == call.end() || !index->is_number()) return true;
    auto n = reference_count(*index);
    if (!n || *n > 1023) return true;
    for (const char* k : {"id", "type"}) {
      auto it = call.find(k);
      if (it != call.end() && !it->is_null() && !it->is_string()) return true;
    }
    auto fn = call.find("function");
    if (fn == call.end() || fn->is_null()) continue;
    if (!fn->is_object()) return true;
    for (const char* k : {"name", "arguments"}) {
      auto it = fn->find(k);
      if (it != fn->end() && !it->is_null() && !it->is_string()) return true;
    }
  }
  return false;
}

// What the reader must return for `j` (an accepted text's tree); `malformed` is only told
// apart from nullptr (which message comes first depends on member order).
inline openai_chunk reference_chunk(const reference_json& j) {
  static const char* const bad = "malformed";
  openai_chunk c;
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    c.error = true;
    if (e->is_string()) c.error_message = e->get<std::string>();
    if (e->is_object()) {
      auto m = e->find("message");
      if (m != e->end() && m->is_string()) c.error_message = m->get<std::string>();
    }
  }
  c.chunk_members =
      reference_members(j, {"id", "object", "created", "model", "choices", "usage", "error"})
          .dump();
  if (auto ch = j.find("choices"); ch != j.end() && ch->is_array()) {
    for (std::size_t i = 0; i < ch->size(); ++i) {
      const auto& e = (*ch)[i];
      if (!e.is_object()) {
        c.malformed = bad;
        continue;
      }
      openai_choice oc;
      oc.index = static_cast<std::uint32_t>(i);
      if (auto ix = e.find("index"); ix != e.end() && ix->is_number()) {
        auto n = reference_count(*ix);
        if (n && *n <= 127)
          oc.index = static_cast<std::uint32_t>(*n);
        else
          c.malformed = bad;
      }
      if (auto f = e.find("finish_reason"); f != e.end() && f->is_string())
        oc.finish_reason = f->get<std::string>();
      oc.choice_members = reference_members(e, {"index", "delta", "finish_reason"}).dump();
      auto d = e.find("delta");
      auto delta_members = reference_json::object();
      if (d != e.end() && d->is_object()) {
        auto ct = d->find("content");
        bool text = ct != d->end() && ct->is_string();
        if (text) oc.content = ct->get<std::string>();
        delta_members =
            text ? reference_members(*d, {"role", "content"}) : reference_members(*d, {"role"});
        if (auto t = d->find("tool_calls"); t != d->end() && reference_bad_tool_calls(*t))
          c.malformed = bad;
      } else if (d != e.end() && !d->is_null()) {
        c.malformed = bad;
      }
      oc.delta_members = delta_members.dump();
      c.choices.push_back(std::move(oc));
    }
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    usage_info counts;
    auto field = [&](const char* k) -> const reference_json* {
      auto it = u->find(k);
      return it == u->end() ? nullptr : &*it;
    };
    counts.prompt_tokens = reference_token_count(field("prompt_tokens"));
    counts.completion_tokens = reference_token_count(field("completion_tokens"));
    c.usage = counts;
    c.usage_json = u->dump();
  }
  return c;
}

// The first difference between what the reader read and the reference ("" when none). Raw
// member lists are compared as the JSON they hold.
inline std::string chunk_difference(const openai_chunk& got, const openai_chunk& want) {
  auto same_members = [](const std::string& raw, const std::string& dumped) {
    auto a = parse_members(raw);
    auto b = parse_members(dumped, false);
    return !a.is_discarded() && a == b;
  };
  if (got.error != want.error) return "error";
  if (got.error_message != want.error_message) return "error_message";
  if ((got.malformed == nullptr) != (want.malformed == nullptr)) return "malformed";
  if (!same_members(got.chunk_members, want.chunk_members)) return "chunk_members";
  if (got.usage.has_value() != want.usage.has_value()) return "usage";
  if (want.usage) {
    if (got.usage->prompt_tokens != want.usage->prompt_tokens) return "prompt_tokens";
    if (got.usage->completion_tokens != want.usage->completion_tokens) return "completion_tokens";
    if (parse_members(got.usage_json, false) != parse_members(want.usage_json, false))
      return "usage_json";
  }
  if (want.malformed != nullptr) return "";  // a refused chunk's choices are not used
  if (got.choices.size() != want.choices.size()) return "choices";
  for (std::size_t i = 0; i < want.choices.size(); ++i) {
    const auto& g = got.choices[i];
    const auto& w = want.choices[i];
    if (g.index != w.index) return "choices.index";
    if (g.content != w.content) return "choices.content";
    if (g.finish_reason != w.finish_reason) return "choices.finish_reason";
    if (!same_members(g.delta_members, w.delta_members)) return "choices.delta_members";
    if (!same_members(g.choice_members, w.choice_members)) return "choices.choice_members";
  }
  return "";
}

// The whole check: `got` is what read_openai_chunk returned for `text`. "" when it agrees.
inline std::string check_against_reference(std::string_view text,
                                           const std::optional<openai_chunk>& got) {
  auto parsed = parse_reference_text(text);
  bool accepted =
      !parsed.value.is_discarded() && parsed.value.is_object() && parsed.depth <= max_chunk_depth;
  if (got.has_value() != accepted) return accepted ? "refused a valid chunk" : "accepted";
  if (!accepted || parsed.duplicate_key) return "";
  return chunk_difference(*got, reference_chunk(parsed.value));
}

}  // namespace streamgate::testing
