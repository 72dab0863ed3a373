#include "transports/openai_format.hpp"

#include "actors/error_code.hpp"
#include "transports/json_string.hpp"

#include <nlohmann/json.hpp>

namespace streamgate::openai {
namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
  // Upstream text may carry invalid UTF-8: replace it rather than fail the stream.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json chunk_base(const completion_context& ctx) {
  return json{{"id", ctx.id},
              {"object", "chat.completion.chunk"},
              {"created", ctx.created},
              {"model", ctx.model}};
}

// Every chunk's text up to the inside of its delta object.
std::string chunk_head(const completion_context& ctx) {
  std::string out = "{\"id\":";
  append_json_string(out, ctx.id);
  out += ",\"object\":\"chat.completion.chunk\",\"created\":";
  out += std::to_string(ctx.created);
  out += ",\"model\":";
  append_json_string(out, ctx.model);
  out += ",\"choices\":[{\"index\":0,\"delta\":{";
  return out;
}

json usage_json(const usage_info& u) {
  return json{{"prompt_tokens", u.prompt_tokens},
              {"completion_tokens", u.completion_tokens},
              {"total_tokens", u.total()}};
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

std::string finish_chunk(const completion_context& ctx, std::string_view finish_reason) {
  auto out = chunk_head(ctx);
  out += "},\"finish_reason\":";
  append_json_string(out, finish_reason);
  out += "}]}";
  return out;
}

std::string usage_chunk(const completion_context& ctx, const usage_info& usage) {
  auto j = chunk_base(ctx);
  j["choices"] = json::array();
  j["usage"] = usage_json(usage);
  return dump(j);
}

std::string completion(const completion_context& ctx, std::string_view content,
                       std::string_view finish_reason, const usage_info& usage) {
  json j{{"id", ctx.id},
         {"object", "chat.completion"},
         {"created", ctx.created},
         {"model", ctx.model},
         {"choices", json::array({{{"index", 0},
                                   {"message", {{"role", "assistant"}, {"content", content}}},
                                   {"finish_reason", finish_reason}}})},
         {"usage", usage_json(usage)}};
  return dump(j);
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
