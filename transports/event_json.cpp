#include "transports/event_json.hpp"

namespace streamgate {

using json = nlohmann::json;

json event_json(const stream_event& ev) {
  json j{{"seq", ev.seq}};
  switch (ev.kind) {
    case event_kind::delta:
      j["type"] = "delta";
      j["content"] = ev.text;
      break;
    case event_kind::usage:
      j["type"] = "usage";
      j["usage"] = {{"prompt_tokens", ev.usage.prompt_tokens},
                    {"completion_tokens", ev.usage.completion_tokens},
                    {"total_tokens", ev.usage.total()}};
      break;
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
  }
  return j;
}

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace streamgate
