#include "transports/openai/completion_builder.hpp"

#include "transports/openai/event_json.hpp"

namespace streamgate {
namespace {

using json = nlohmann::json;

// A raw member list of a validated chunk (delta_fields) as an object. The chunk reader
// bounded its depth, so nlohmann's recursive parser is safe here.
json members(const std::string& list) {
  if (list.empty()) return json::object();
  auto j = json::parse("{" + list + "}", nullptr, false);
  return j.is_object() ? j : json::object();
}

}  // namespace

void completion_builder::clear() {
  choices_.clear();
  chunk_ = json::object();
  usage_.reset();
}

void completion_builder::add(const stream_event& ev) {
  if (ev.kind == event_kind::usage) {
    usage_ = ev;
    return;
  }
  if (ev.kind != event_kind::delta) return;
  auto& c = choices_[ev.choice];
  c.content += ev.text;
  const auto* f = ev.fields.get();
  if (f == nullptr) return;
  add_delta_members(c, f->delta);
  merge(c.extra, members(f->choice));
  auto chunk = members(f->chunk);  // named: items() of a temporary would dangle
  for (auto& [key, value] : chunk.items()) chunk_[key] = value;
  if (!f->finish_reason.empty()) c.finish_reason = f->finish_reason;
}

void completion_builder::add_delta_members(choice_state& c, const std::string& list) {
  auto delta = members(list);
  for (auto& [key, value] : delta.items()) {
    if (key != "tool_calls" || !value.is_array()) {
      merge(c.message, json{{key, value}});
      continue;
    }
    for (const auto& fragment : value) {
      // The chunk reader refused a fragment that is not an object or has no index.
      if (!fragment.is_object() || !fragment.contains("index")) continue;
      auto& call = c.tool_calls[fragment["index"].get<std::uint64_t>()];
      if (call.is_null()) call = json::object();
      for (auto& [k, v] : fragment.items())
        if (k != "index") merge(call, json{{k, v}});
    }
  }
}

// One piece's members into what was assembled so far: strings concatenated, objects merged
// member by member, `content` lists (logprobs) joined, anything else replaced.
void completion_builder::merge(json& into, const json& piece) {
  for (auto& [key, value] : piece.items()) {
    auto it = into.find(key);
    if (it == into.end() || it->is_null()) {
      into[key] = value;
    } else if (it->is_string() && value.is_string()) {
      it->get_ref<std::string&>() += value.get_ref<const std::string&>();
    } else if (it->is_object() && value.is_object()) {
      merge(*it, value);
    } else if (it->is_array() && value.is_array()) {
      for (const auto& v : value) it->push_back(v);
    } else {
      *it = value;
    }
  }
}

std::string completion_builder::render(const openai::completion_context& ctx,
                                       std::string_view finish_reason) const {
  json choices = json::array();
  auto one = [&](std::uint32_t index, const choice_state* c) {
    json message = c != nullptr ? c->message : json::object();
    message["role"] = "assistant";
    bool calls = c != nullptr && !c->tool_calls.empty();
    // OpenAI's own: content null beside tool calls and nothing else.
    if (c != nullptr && !c->content.empty())
      message["content"] = c->content;
    else
      message["content"] = calls ? json(nullptr) : json("");
    if (calls) {
      json list = json::array();
      for (const auto& [i, call] : c->tool_calls) list.push_back(call);
      message["tool_calls"] = std::move(list);
    }
    json choice = c != nullptr ? c->extra : json::object();
    choice["index"] = index;
    choice["message"] = std::move(message);
    choice["finish_reason"] =
        c != nullptr && !c->finish_reason.empty() ? c->finish_reason : std::string{finish_reason};
    if (!choice.contains("logprobs")) choice["logprobs"] = nullptr;
    choices.push_back(std::move(choice));
  };
  if (choices_.empty()) one(0, nullptr);
  for (const auto& [index, c] : choices_) one(index, &c);

  json j = chunk_;
  j["id"] = ctx.id;
  j["object"] = "chat.completion";
  j["created"] = ctx.created;
  j["model"] = ctx.model;
  j["choices"] = std::move(choices);
  std::string usage;
  openai::append_usage(usage, usage_ ? *usage_ : stream_event::make_usage({}));
  j["usage"] = json::parse(usage, nullptr, false);
  return dump_json(j);
}

}  // namespace streamgate
