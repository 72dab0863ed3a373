#include "transports/openai/event_json.hpp"

#include "transports/openai/json_string.hpp"
#include "transports/openai/openai_format.hpp"

namespace streamgate {
namespace {

using json = nlohmann::json;

json tree_of(const stream_event& ev) {
  json j{{"seq", ev.seq}};
  switch (ev.kind) {
    case event_kind::finish:
      j["type"] = "done";
      j["finish_reason"] = ev.text;
      break;
    case event_kind::error:
      j["type"] = "error";
      j["code"] = ev.code;
      j["message"] = ev.text;
      // What an HTTP client reads from Retry-After (quota_exhausted, upstream_rate_limited).
      if (ev.retry_after_s > 0) j["retry_after"] = ev.retry_after_s;
      break;
    case event_kind::cancelled:
      j["type"] = "cancelled";
      j["reason"] = ev.text;
      break;
    case event_kind::heartbeat:
      j["type"] = "heartbeat";
      break;
    case event_kind::delta:
    case event_kind::usage:
      break;  // written as text
  }
  return j;
}

// ,"name":{members}
void append_object(std::string& out, std::string_view name, const std::string& members) {
  if (members.empty()) return;
  out += ",\"";
  out += name;
  out += "\":{";
  out += members;
  out += '}';
}

void append_tail(std::string& out, std::string_view id, const stream_event& ev,
                 std::string_view type) {
  if (!id.empty()) {
    out += ",\"id\":";
    append_json_string(out, id);
  }
  out += ",\"seq\":";
  append_decimal(out, ev.seq);
  out += ",\"type\":\"";
  out += type;
  out += '"';
}

void append_delta(std::string& out, std::string_view id, const stream_event& ev) {
  // Per token: as text, in the order (sorted keys) a JSON tree would give it.
  out.reserve(out.size() + 48 + ev.text.size() + id.size());
  out += "{\"content\":";
  append_json_string(out, ev.text);
  if (ev.choice != 0) {
    out += ",\"choice\":";
    append_decimal(out, ev.choice);
  }
  if (const auto* f = ev.fields.get()) {
    append_object(out, "chunk_extra", f->chunk);
    append_object(out, "choice_extra", f->choice);
    append_object(out, "delta", f->delta);
    if (!f->finish_reason.empty()) {
      out += ",\"finish_reason\":";
      append_json_string(out, f->finish_reason);
    }
  }
  append_tail(out, id, ev, "delta");
  out += '}';
}

}  // namespace

void append_event_json(std::string& out, const stream_event& ev, std::string_view id) {
  if (ev.kind == event_kind::delta) return append_delta(out, id, ev);
  if (ev.kind == event_kind::usage) {
    out += "{\"usage\":";
    openai::append_usage(out, ev);
    append_tail(out, id, ev, "usage");
    out += '}';
    return;
  }
  auto j = tree_of(ev);
  if (!id.empty()) j["id"] = id;
  out += dump_json(j);
}

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace streamgate
