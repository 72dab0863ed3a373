// A chat request body as a client sends it to /v1/chat/completions or /v1/sessions.
//
// Properties: a refusal has a code and a message, and renders as an OpenAI error body; an
// accepted request has a non-empty model, a non-empty message list and the flags its body
// says, and every way it is rendered (the mock's echo, the upstream request for both
// adapters, the first chunk's head) works and gives valid JSON where JSON is due.
#include "providers/answer_request.hpp"
#include "providers/http/provider_config.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "transports/openai/openai_format.hpp"

#include <streamgate/chat_request.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

namespace {

using namespace streamgate;
using json = nlohmann::json;

http_provider_config provider(adapter_kind adapter, const std::string& model) {
  http_provider_config cfg;
  cfg.name = "fuzz";
  cfg.base_url = "https://upstream.invalid/v1/";
  cfg.adapter = adapter;
  cfg.api_key = secret{"id.fuzz-secret"};
  cfg.models[model] = "renamed-" + model;
  return cfg;
}

void check_accepted(const chat_request& req) {
  SG_FUZZ_CHECK(!req.model.empty());
  SG_FUZZ_CHECK(req.body.is_object());
  const auto& messages = req.body.at("messages");
  SG_FUZZ_CHECK(messages.is_array() && !messages.empty());
  auto stream = req.body.find("stream");
  SG_FUZZ_CHECK(req.stream ==
                (stream != req.body.end() && stream->is_boolean() && stream->get<bool>()));
  if (req.mock.tokens) SG_FUZZ_CHECK(*req.mock.tokens <= 100000);
  if (req.mock.tool_fragments)
    SG_FUZZ_CHECK(*req.mock.tool_fragments >= 1 && *req.mock.tool_fragments <= 1000);
  if (req.mock.tool_calls) SG_FUZZ_CHECK(*req.mock.tool_calls <= 64);
  SG_FUZZ_CHECK(req.choices >= 1 && req.choices <= 128);
  // What the mock provider reads from an accepted body never throws, whatever it holds.
  answer_options shape;
  apply_request(req.body, shape);
  SG_FUZZ_CHECK(shape.choices == req.choices);
  (void)last_user_text(req);

  auto openai_request = build_request(provider(adapter_kind::openai, req.model), req, 0);
  auto sent = json::parse(openai_request.body, nullptr, false);
  SG_FUZZ_CHECK(sent.is_object());
  SG_FUZZ_CHECK(sent.at("model") == "renamed-" + req.model);
  SG_FUZZ_CHECK(sent.at("stream") == true);
  SG_FUZZ_CHECK(!sent.contains("mock"));
  auto legacy = build_request(provider(adapter_kind::zhipu_legacy, req.model), req, 0);
  SG_FUZZ_CHECK(json::parse(legacy.body, nullptr, false).is_object());

  openai::completion_context ctx{"chatcmpl-fuzz", req.model, 0};
  auto head = openai::delta_head(ctx, true);
  SG_FUZZ_CHECK(!head.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body{reinterpret_cast<const char*>(data), size};
  auto parsed = parse_chat_request(body);
  if (auto* err = std::get_if<request_error>(&parsed)) {
    SG_FUZZ_CHECK(!err->code.empty() && !err->message.empty());
    auto rendered = json::parse(openai::error_body(err->code, err->message), nullptr, false);
    SG_FUZZ_CHECK(rendered.is_object() && rendered.contains("error"));
    return 0;
  }
  check_accepted(std::get<chat_request>(parsed));
  return 0;
}
