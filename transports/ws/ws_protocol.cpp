#include "transports/ws/ws_protocol.hpp"

#include "actors/error_code.hpp"
#include "actors/json_input.hpp"
#include "transports/openai/event_json.hpp"
#include "transports/openai/json_string.hpp"

namespace streamgate::ws {
namespace {

using json = nlohmann::json;

command invalid(std::string_view code, std::string message, std::string id = {}) {
  command c;
  c.error_code = std::string{code};
  c.error_message = std::move(message);
  // An id over the limit is not echoed, whatever else is wrong with the message: a refusal
  // must not cost the size of the message that caused it.
  if (id.size() <= max_stream_id) c.id = std::move(id);
  return c;
}

}  // namespace

command parse_command(std::string_view text) {
  // One level more than a request may have: the envelope's, so a `request` has the same room
  // over WebSocket as over HTTP.
  auto in = parse_json_input(text, max_json_depth + 1);
  if (in.outcome == json_input::status::too_deep)
    return invalid(error_code::invalid_request,
                   too_deep_message("the message", max_json_depth + 1));
  if (!in.ok()) return invalid(error_code::invalid_json, "the frame is not valid JSON");
  auto& j = in.value;
  if (!j.is_object())
    return invalid(error_code::invalid_request, "a message must be a JSON object");
  std::string id;
  auto id_it = j.find("id");
  if (id_it != j.end() && id_it->is_string()) id = id_it->get<std::string>();
  auto type_it = j.find("type");
  if (type_it == j.end() || !type_it->is_string())
    return invalid(error_code::invalid_request, "'type' must be a string", id);
  auto type = type_it->get<std::string>();

  command c;
  if (type == "ping") {
    c.what = command::kind::ping;
    if (auto d = j.find("data"); d != j.end()) c.data = std::move(*d);
    return c;
  }
  if (type != "start" && type != "cancel" && type != "resume")
    return invalid(
        error_code::invalid_request,
        "unknown message type '" + excerpt(type) + "'; expected start, cancel, resume or ping", id);
  if (id_it == j.end() || !id_it->is_string() || id.empty() || id.size() > max_stream_id)
    return invalid(error_code::invalid_request,
                   "'id' must be a non-empty string of at most " + std::to_string(max_stream_id) +
                       " characters",
                   id);
  c.id = id;
  if (type == "cancel") {
    c.what = command::kind::cancel;
    return c;
  }
  if (type == "resume") {
    auto s = j.find("session");
    if (s == j.end() || !s->is_string())
      return invalid(error_code::invalid_request, "'session' must be a string", id);
    auto a = j.find("after");
    if (a != j.end() && !a->is_number_unsigned())
      return invalid(error_code::invalid_request, "'after' must be a non-negative integer", id);
    c.what = command::kind::resume;
    c.session = s->get<std::string>();
    c.after = a == j.end() ? 0 : a->get<std::uint64_t>();
    return c;
  }
  auto r = j.find("request");
  if (r == j.end() || !r->is_object())
    return invalid(error_code::invalid_request, "'request' must be an OpenAI chat request object",
                   id);
  auto parsed = check_chat_request(std::move(*r));
  if (auto* err = std::get_if<request_error>(&parsed))
    return invalid(err->code, "request: " + err->message, id);
  c.what = command::kind::start;
  c.request = std::move(std::get<chat_request>(parsed));
  return c;
}

std::string started(std::string_view id, std::string_view session, std::string_view model,
                    bool resumed, std::uint64_t after) {
  json j{{"type", "started"}, {"id", id}, {"session", session}};
  if (resumed) {
    j["resumed"] = true;
    j["after"] = after;
  } else {
    j["model"] = model;
  }
  return dump_json(j);
}

std::string event(std::string_view id, const stream_event& ev) {
  std::string out;
  append_event(out, id, ev);
  return out;
}

void append_event(std::string& out, std::string_view id, const stream_event& ev) {
  append_event_json(out, ev, id);
}

std::string error(std::string_view id, std::string_view code, std::string_view message) {
  json j{{"type", "error"}, {"code", code}, {"message", message}};
  if (!id.empty()) j["id"] = id;
  return dump_json(j);
}

std::string pong(const json& data) {
  json j{{"type", "pong"}};
  if (!data.is_null()) j["data"] = data;
  return dump_json(j);
}

std::string heartbeat(std::int64_t unix_ms) {
  return dump_json(json{{"type", "heartbeat"}, {"time", unix_ms}});
}

}  // namespace streamgate::ws
