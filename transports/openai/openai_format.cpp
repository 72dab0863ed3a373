#include "transports/openai/openai_format.hpp"

#include "actors/error_code.hpp"
#include "transports/openai/json_string.hpp"

#include <nlohmann/json.hpp>

namespace streamgate::openai {
namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
  // Upstream text may carry invalid UTF-8: replace it rather than fail the stream.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Every chunk's text up to its choices: the gateway's id, created and model.
void append_chunk_start(std::string& out, const completion_context& ctx) {
  out += "{\"id\":";
  append_json_string(out, ctx.id);
  out += ",\"object\":\"chat.completion.chunk\",\"created\":";
  append_decimal(out, static_cast<std::uint64_t>(ctx.created));
  out += ",\"model\":";
  append_json_string(out, ctx.model);
}

// Every chunk's text up to the inside of its delta object.
std::string chunk_head(const completion_context& ctx) {
  std::string out;
  append_chunk_start(out, ctx);
  out += ",\"choices\":[{\"index\":0,\"delta\":{";
  return out;
}

}  // namespace

const char* error_type(std::string_view code) {
  namespace ec = error_code;
  if (code == ec::invalid_json || code == ec::invalid_request || code == ec::model_not_found ||
      code == ec::body_too_large || code == ec::method_not_allowed || code == ec::not_found ||
      code == ec::session_not_found || code == ec::upstream_bad_request)
    return "invalid_request_error";
  if (code == ec::quota_exhausted || code == ec::upstream_rate_limited) return "rate_limit_error";
  if (code == ec::upstream_auth_failed) return "authentication_error";
  if (code == ec::cancelled) return "cancelled";
  return "server_error";
}

std::string error_body(std::string_view code, std::string_view message) {
  return dump(json{{"error", {{"message", message}, {"type", error_type(code)}, {"code", code}}}});
}

std::string delta_head(const completion_context& ctx, bool with_role) {
  return chunk_head(ctx) + (with_role ? "\"role\":\"assistant\",\"content\":" : "\"content\":");
}

void append_delta(std::string& out, std::string_view head, std::string_view content) {
  // The one rendering done per token: text around the escaped content, not a JSON tree,
  // which took 3x as long (bench/render_bench.cpp).
  constexpr std::string_view tail = "},\"finish_reason\":null}]}";
  out.reserve(out.size() + head.size() + content.size() + tail.size() + 8);
  out += head;
  append_json_string(out, content);
  out += tail;
}

void append_piece(std::string& out, const completion_context& ctx, const stream_event& ev,
                  bool with_role) {
  const auto* f = ev.fields.get();
  append_chunk_start(out, ctx);
  if (f != nullptr && !f->chunk.empty()) {
    out += ',';
    out += f->chunk;
  }
  out += ",\"choices\":[{\"index\":";
  append_decimal(out, ev.choice);
  out += ",\"delta\":{";
  const char* sep = "";
  if (with_role) {
    out += "\"role\":\"assistant\"";
    sep = ",";
  }
  if (!ev.text.empty()) {
    out += sep;
    out += "\"content\":";
    append_json_string(out, ev.text);
    sep = ",";
  }
  if (f != nullptr && !f->delta.empty()) {
    out += sep;
    out += f->delta;
  }
  out += '}';
  if (f != nullptr && !f->choice.empty()) {
    out += ',';
    out += f->choice;
  }
  out += ",\"finish_reason\":";
  if (f != nullptr && !f->finish_reason.empty())
    append_json_string(out, f->finish_reason);
  else
    out += "null";
  out += "}]}";
}

void append_usage(std::string& out, const stream_event& usage) {
  if (!usage.text.empty()) {  // the provider's own, with its details
    out += usage.text;
    return;
  }
  out += "{\"prompt_tokens\":";
  append_decimal(out, usage.usage.prompt_tokens);
  out += ",\"completion_tokens\":";
  append_decimal(out, usage.usage.completion_tokens);
  out += ",\"total_tokens\":";
  append_decimal(out, usage.usage.total());
  out += '}';
}

std::string usage_chunk(const completion_context& ctx, const stream_event& usage) {
  std::string out;
  append_chunk_start(out, ctx);
  out += ",\"choices\":[],\"usage\":";
  append_usage(out, usage);
  out += '}';
  return out;
}

void append_sse(std::string& out, std::uint64_t seq, std::string_view data) {
  begin_sse(out, seq);
  out += data;
  end_sse(out);
}

void begin_sse(std::string& out, std::uint64_t seq) {
  if (seq != 0) {
    out += "id: ";
    append_decimal(out, seq);
    out += '\n';
  }
  out += "data: ";
}

void end_sse(std::string& out) {
  out += "\n\n";
}

}  // namespace streamgate::openai
