#include "tools/fake_upstream/shaped_answer.hpp"

#include "providers/answer_request.hpp"

#include <nlohmann/json.hpp>

namespace streamgate::fake {

using json = nlohmann::json;

std::optional<answer_options> shaped_options(const behaviour& b, const json& body) {
  if (b.zhipu_legacy) return std::nullopt;
  answer_options o;
  apply_request(body, o);
  if (b.n) o.choices = *b.n;
  o.reasoning_tokens = b.reasoning;
  if (b.tool_calls) o.tool_calls = *b.tool_calls;
  if (b.bad_tool_call && *b.bad_tool_call > 0 && o.tool_calls == 0) o.tool_calls = 1;
  if (b.fragments) o.tool_fragments = *b.fragments;
  o.argument_padding = b.pad_arguments;
  o.content_tokens = b.chunks;
  bool plain = o.choices == 1 && o.reasoning_tokens == 0 && o.tool_calls == 0 &&
               o.content_lead.empty() && !(b.delta_not_object && *b.delta_not_object > 0);
  if (plain) return std::nullopt;
  // Choice c goes on numbering where choice c-1 stopped, so every choice has its own text.
  o.content_token = [chunks = b.chunks, size = b.chunk_size](std::uint32_t c, std::uint32_t i) {
    return chunk_text(c * chunks + i, size);
  };
  return o;
}

shaped_stream::shaped_stream(answer_options o, const behaviour& b, std::string model)
    : script_(std::move(o)), model_(json(model).dump()) {
  if (b.bad_tool_call && *b.bad_tool_call > 0) bad_tool_call_ = b.bad_tool_call;
  if (b.delta_not_object && *b.delta_not_object > 0) delta_not_object_ = b.delta_not_object;
}

std::string shaped_stream::event(std::uint32_t choice, const std::string& delta,
                                 const std::string& finish) const {
  return "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":0,"
         "\"model\":" +
         model_ +
         ",\"system_fingerprint\":\"fp_fake\",\"choices\":[{\"index\":" + std::to_string(choice) +
         ",\"delta\":" + delta +
         ",\"logprobs\":null,\"finish_reason\":" + (finish.empty() ? "null" : json(finish).dump()) +
         "}]}\n\n";
}

std::string shaped_stream::head() const {
  // A tool-calling answer starts with null content, as OpenAI's does.
  const char* role = script_.options().tool_calls > 0 ? R"({"role":"assistant","content":null})"
                                                      : R"({"role":"assistant","content":""})";
  std::string out;
  for (std::uint32_t c = 0; c < script_.options().choices; ++c) out += event(c, role, "");
  return out;
}

std::string shaped_stream::next_event() {
  answer_piece p;
  if (!script_.next(p)) return {};
  ++pieces_;
  if (delta_not_object_ && pieces_ == *delta_not_object_)
    return event(p.choice, "\"not an object\"", "");
  if (p.kind == piece_kind::finish) return event(p.choice, "{}", p.text);
  auto members = delta_members(p);
  bool tool = p.kind == piece_kind::tool_call || p.kind == piece_kind::arguments;
  if (tool && bad_tool_call_ && ++tool_pieces_ == *bad_tool_call_) {
    // "tool_calls":[{...}] → "tool_calls":{...}
    auto open = members.find('[');
    members = members.substr(0, open) + members.substr(open + 1, members.size() - open - 2);
  }
  return event(p.choice, "{" + members + "}", "");
}

std::string shaped_completion(const answer_options& o, const behaviour& b,
                              const std::string& model) {
  answer_script counter{o};
  auto choices = json::array();
  auto assembled = assemble(o);
  for (std::size_t c = 0; c < assembled.size(); ++c) {
    auto& a = assembled[c];
    json message{{"role", "assistant"}};
    message["content"] = a.tool_calls.empty() ? json(a.content) : json(nullptr);
    if (!a.reasoning.empty()) message["reasoning_content"] = a.reasoning;
    if (!a.tool_calls.empty()) {
      auto calls = json::array();
      for (auto& call : a.tool_calls)
        calls.push_back({{"id", call.id},
                         {"type", "function"},
                         {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
      // The fault: a tool_calls value that is not an array.
      message["tool_calls"] = b.bad_tool_call && *b.bad_tool_call > 0 ? calls[0] : calls;
    }
    choices.push_back({{"index", c},
                       {"message", std::move(message)},
                       {"logprobs", nullptr},
                       {"finish_reason", a.finish_reason}});
  }
  auto tokens = counter.completion_tokens();
  return json{{"id", "chatcmpl-fake"},
              {"object", "chat.completion"},
              {"created", 0},
              {"model", model},
              {"system_fingerprint", "fp_fake"},
              {"choices", std::move(choices)},
              {"usage",
               {{"prompt_tokens", 1}, {"completion_tokens", tokens}, {"total_tokens", tokens + 1}}}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace streamgate::fake
