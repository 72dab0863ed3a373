#include <streamgate/chat_request.hpp>

#include "actors/error_code.hpp"
#include "actors/json_input.hpp"

#include <algorithm>
#include <array>

namespace streamgate {
namespace {

using json = nlohmann::json;

request_error invalid(std::string param, std::string message) {
  return {std::string{error_code::invalid_request}, std::move(message), std::move(param)};
}

bool is_known_role(const std::string& role) {
  static constexpr std::array<std::string_view, 6> roles{"system", "user",     "assistant",
                                                         "tool",   "function", "developer"};
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::optional<request_error> check_messages(const json& body) {
  auto it = body.find("messages");
  if (it == body.end()) return invalid("messages", "'messages' is required");
  if (!it->is_array()) return invalid("messages", "'messages' must be an array");
  if (it->empty()) return invalid("messages", "'messages' must not be empty");
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& m = (*it)[i];
    auto param = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return invalid(param, "'" + param + "' must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      return invalid(param + ".role", "'" + param + ".role' must be a string");
    if (!is_known_role(role->get<std::string>()))
      return invalid(param + ".role", "'" + param + ".role' is not a known role");
    auto content = m.find("content");
    // Content is text, an array of parts (multimodal), or null next to tool calls.
    if (content != m.end() && !content->is_string() && !content->is_array() && !content->is_null())
      return invalid(param + ".content", "'" + param + ".content' must be a string or an array");
  }
  return std::nullopt;
}

// Reads an optional bounded integer from `obj[key]` into `out`.
std::optional<request_error> read_bounded(const json& obj, const char* key, std::string param,
                                          std::uint32_t max, std::optional<std::uint32_t>& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > max)
    return invalid(param, "'" + param + "' must be an integer from 0 to " + std::to_string(max));
  out = static_cast<std::uint32_t>(it->get<std::int64_t>());
  return std::nullopt;
}

// Only what the mock provider reads: providers define the rest of a tool's schema.
std::optional<request_error> check_tools(const json& body) {
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return invalid("tools", "'tools' must be an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_object()) {
        auto param = "tools[" + std::to_string(i) + "]";
        return invalid(param, "'" + param + "' must be an object");
      }
    }
  }
  if (auto it = body.find("tool_choice");
      it != body.end() && !it->is_null() && !it->is_string() && !it->is_object())
    return invalid("tool_choice", "'tool_choice' must be a string or an object");
  return std::nullopt;
}

std::optional<request_error> check_mock(const json& mock, chat_request& req) {
  if (!mock.is_object()) return invalid("mock", "'mock' must be an object");
  static constexpr std::array<std::string_view, 6> knobs{"tokens",      "first_token_ms",
                                                         "interval_ms", "reasoning_tokens",
                                                         "tool_calls",  "tool_fragments"};
  for (auto& [k, v] : mock.items()) {
    (void)v;
    if (std::find(knobs.begin(), knobs.end(), k) == knobs.end())
      return invalid("mock." + excerpt(k), "'mock." + excerpt(k) + "' is not a mock option");
  }
  auto& m = req.mock;
  if (auto e = read_bounded(mock, "tokens", "mock.tokens", max_mock_tokens, m.tokens)) return e;
  if (auto e =
          read_bounded(mock, "first_token_ms", "mock.first_token_ms", 600000, m.first_token_ms))
    return e;
  if (auto e = read_bounded(mock, "interval_ms", "mock.interval_ms", 60000, m.interval_ms))
    return e;
  if (auto e = read_bounded(mock, "reasoning_tokens", "mock.reasoning_tokens", max_mock_tokens,
                            m.reasoning_tokens))
    return e;
  if (auto e =
          read_bounded(mock, "tool_calls", "mock.tool_calls", max_mock_tool_calls, m.tool_calls))
    return e;
  if (auto e = read_bounded(mock, "tool_fragments", "mock.tool_fragments", max_mock_tool_fragments,
                            m.tool_fragments))
    return e;
  if (m.tool_fragments == 0u)
    return invalid("mock.tool_fragments", "'mock.tool_fragments' must be an integer from 1 to " +
                                              std::to_string(max_mock_tool_fragments));
  return std::nullopt;
}

std::optional<request_error> check_options(const json& body, chat_request& req) {
  if (auto it = body.find("stream"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) return invalid("stream", "'stream' must be a boolean");
    req.stream = it->get<bool>();
  }
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return invalid("stream_options", "'stream_options' must be an object");
    if (auto u = it->find("include_usage"); u != it->end() && !u->is_null()) {
      if (!u->is_boolean())
        return invalid("stream_options.include_usage",
                       "'stream_options.include_usage' must be a boolean");
      req.include_usage = u->get<bool>();
    }
  }
  for (const char* key : {"temperature", "top_p", "presence_penalty", "frequency_penalty"}) {
    if (auto it = body.find(key); it != body.end() && !it->is_null() && !it->is_number())
      return invalid(key, std::string{"'"} + key + "' must be a number");
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (auto it = body.find(key); it != body.end() && !it->is_null() &&
                                  (!it->is_number_integer() || it->get<std::int64_t>() < 1))
      return invalid(key, std::string{"'"} + key + "' must be a positive integer");
  }
  if (auto it = body.find("n"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
        it->get<std::int64_t>() > max_choices)
      return invalid("n", "'n' must be an integer from 1 to " + std::to_string(max_choices));
    req.choices = static_cast<std::uint32_t>(it->get<std::int64_t>());
  }
  if (auto e = check_tools(body)) return e;
  if (auto it = body.find("mock"); it != body.end() && !it->is_null()) return check_mock(*it, req);
  return std::nullopt;
}

std::uint32_t estimate_prompt_tokens(const json& messages) {
  std::size_t chars = 0;
  for (const auto& m : messages) {
    if (auto c = m.find("content"); c != m.end() && c->is_string())
      chars += c->get_ref<const std::string&>().size();
  }
  return static_cast<std::uint32_t>(chars / 4 + messages.size());
}

}  // namespace

parse_result parse_chat_request(std::string_view text) {
  auto in = parse_json_input(text);
  if (in.outcome == json_input::status::too_deep)
    return invalid("", too_deep_message("the request body"));
  if (!in.ok())
    return request_error{std::string{error_code::invalid_json},
                         "the request body is not valid JSON", ""};
  return check_chat_request(std::move(in.value));
}

parse_result check_chat_request(nlohmann::json body) {
  if (!body.is_object()) return invalid("", "the request body must be a JSON object");

  chat_request req;
  auto model = body.find("model");
  if (model == body.end()) return invalid("model", "'model' is required");
  if (!model->is_string() || model->get_ref<const std::string&>().empty())
    return invalid("model", "'model' must be a non-empty string");
  if (model->get_ref<const std::string&>().size() > max_model_bytes)
    return invalid("model",
                   "'model' must be at most " + std::to_string(max_model_bytes) + " bytes");
  req.model = model->get<std::string>();

  if (auto e = check_messages(body)) return *e;
  if (auto e = check_options(body, req)) return *e;
  req.prompt_tokens = estimate_prompt_tokens(body["messages"]);
  req.body = std::move(body);
  return req;
}

std::string last_user_text(const chat_request& req) {
  const auto& messages = req.body.at("messages");
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    auto c = it->find("content");
    if (it->value("role", "") == "user" && c != it->end() && c->is_string())
      return c->get<std::string>();
  }
  return {};
}

}  // namespace streamgate
