#include "providers/answer_request.hpp"

#include <nlohmann/json.hpp>

namespace streamgate {
namespace {

using json = nlohmann::json;

// A message's text: its string content, or its text parts joined.
std::string text_of(const json& m) {
  auto c = m.find("content");
  if (c == m.end()) return {};
  if (c->is_string()) return c->get<std::string>();
  std::string out;
  if (c->is_array()) {
    for (const auto& part : *c) {
      if (!part.is_object()) continue;
      auto t = part.find("text");
      if (t != part.end() && t->is_string()) out += t->get_ref<const std::string&>();
    }
  }
  return out;
}

std::string string_at(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// The function names of `tools`, in order, skipping entries that name none.
std::vector<std::string> tool_names_of(const json& tools) {
  std::vector<std::string> names;
  if (!tools.is_array()) return names;
  for (const auto& t : tools) {
    if (!t.is_object()) continue;
    auto f = t.find("function");
    if (f == t.end()) continue;
    auto name = string_at(*f, "name");
    if (!name.empty()) names.push_back(std::move(name));
  }
  return names;
}

}  // namespace

void apply_request(const json& body, answer_options& o) {
  if (!body.is_object()) return;
  if (auto n = body.find("n"); n != body.end() && n->is_number_integer()) {
    auto v = n->get<std::int64_t>();
    if (v >= 1 && v <= max_answer_choices) o.choices = static_cast<std::uint32_t>(v);
  }
  auto messages = body.find("messages");
  const json* last = nullptr;
  if (messages != body.end() && messages->is_array() && !messages->empty()) {
    last = &messages->back();
    for (auto it = messages->rbegin(); it != messages->rend(); ++it) {
      if (it->is_object() && string_at(*it, "role") == "user") {
        o.subject = text_of(*it);
        break;
      }
    }
  }
  bool after_tool = last && last->is_object() && string_at(*last, "role") == "tool";
  if (after_tool) {
    o.content_lead = "The tool answered: " + text_of(*last) + "\n";
    return;
  }
  auto tools = body.find("tools");
  if (tools == body.end()) return;
  auto names = tool_names_of(*tools);
  if (names.empty()) return;
  auto choice = body.find("tool_choice");
  if (choice != body.end()) {
    if (choice->is_string() && choice->get_ref<const std::string&>() == "none") return;
    if (choice->is_object()) {
      auto f = choice->find("function");
      auto named = f != choice->end() ? string_at(*f, "name") : std::string{};
      if (!named.empty()) names = {named};
    }
  }
  o.tool_names = std::move(names);
  o.tool_calls = 1;
}

}  // namespace streamgate
