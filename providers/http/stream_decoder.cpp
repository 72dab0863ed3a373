#include "providers/http/stream_decoder.hpp"

#include "actors/error_code.hpp"
#include "actors/json_input.hpp"
#include "actors/utf8.hpp"
#include "providers/http/openai_chunk.hpp"

#include <nlohmann/json.hpp>

#include <optional>

namespace streamgate {
namespace {

using json = nlohmann::json;

stream_event error_event(std::string_view code, std::string message) {
  return stream_event::make_error(std::string{code}, std::move(message));
}

// OpenAI's chat.completion.chunk stream (also NVIDIA NIM, Zhipu v4, Hunyuan, ...).
class openai_decoder final : public stream_decoder {
 public:
  void on_sse(const sse_event& ev, std::vector<stream_event>& out) override {
    if (done_) return;
    if (ev.data == "[DONE]") {
      emit_terminal(finish_ ? std::move(*finish_) : stream_event::make_finish("stop"), out);
      return;
    }
    // Chunks are almost always valid UTF-8: copy to repair one only when the parser refused it.
    auto chunk = read_openai_chunk(ev.data);
    if (!chunk) chunk = read_openai_chunk(sanitize_utf8(ev.data));
    if (!chunk) {
      emit_terminal(error_event(error_code::upstream_malformed,
                                "the provider sent an event that is not JSON"),
                    out);
      return;
    }
    if (chunk->error) {
      emit_terminal(
          error_event(error_code::upstream_error, chunk->error_message.empty()
                                                      ? "the provider reported an error mid-stream"
                                                      : std::move(chunk->error_message)),
          out);
      return;
    }
    if (chunk->content && !chunk->content->empty())
      out.push_back(stream_event::make_delta(std::move(*chunk->content)));
    if (chunk->finish_reason) finish_ = stream_event::make_finish(std::move(*chunk->finish_reason));
    if (chunk->usage) out.push_back(stream_event::make_usage(*chunk->usage));
  }

  void on_end(std::vector<stream_event>& out) override {
    // Some providers end after finish_reason without [DONE]: that is a clean end. Without
    // either, the stream was cut.
    if (finish_) {
      emit_terminal(std::move(*finish_), out);
      return;
    }
    emit_terminal(error_event(error_code::upstream_interrupted,
                              "the provider's stream ended before the answer was complete"),
                  out);
  }

 private:
  std::optional<stream_event> finish_;
};

// Zhipu's older API: `event: add` carries raw text, `finish` ends (usage on `meta:`),
// `error` and `interrupted` end badly.
class zhipu_legacy_decoder final : public stream_decoder {
 public:
  void on_sse(const sse_event& ev, std::vector<stream_event>& out) override {
    if (done_) return;
    if (ev.event == "add" || ev.event.empty()) {
      if (!ev.data.empty()) out.push_back(stream_event::make_delta(sanitize_utf8(ev.data)));
      return;
    }
    if (ev.event == "finish") {
      auto meta = parse_json_input(ev.meta);
      if (meta.ok() && meta.value.is_object() && meta.value.contains("usage"))
        out.push_back(stream_event::make_usage(usage_of(meta.value["usage"])));
      emit_terminal(stream_event::make_finish("stop"), out);
      return;
    }
    if (ev.event == "interrupted") {
      emit_terminal(error_event(error_code::upstream_interrupted, "the provider interrupted"), out);
      return;
    }
    emit_terminal(
        error_event(error_code::upstream_error,
                    ev.data.empty() ? "the provider reported an error" : sanitize_utf8(ev.data)),
        out);
  }

  void on_end(std::vector<stream_event>& out) override {
    emit_terminal(error_event(error_code::upstream_interrupted,
                              "the provider's stream ended before the answer was complete"),
                  out);
  }
};

}  // namespace

usage_info usage_of(const json& u) {
  usage_info out;
  if (u.is_object()) {
    // A provider's wrongly typed count reads as 0: json::value would throw on the driver thread.
    auto count = [&u](const char* key) -> std::uint32_t {
      auto it = u.find(key);
      return it != u.end() && it->is_number_unsigned() ? it->get<std::uint32_t>() : 0;
    };
    out.prompt_tokens = count("prompt_tokens");
    out.completion_tokens = count("completion_tokens");
  }
  return out;
}

std::unique_ptr<stream_decoder> make_decoder(adapter_kind kind) {
  if (kind == adapter_kind::zhipu_legacy) return std::make_unique<zhipu_legacy_decoder>();
  return std::make_unique<openai_decoder>();
}

std::string sanitize_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    auto n = utf8_sequence(in, i);
    if (n <= 0) {
      out += "\xEF\xBF\xBD";  // one per invalid byte
      ++i;
      continue;
    }
    out.append(in.substr(i, static_cast<std::size_t>(n)));
    i += static_cast<std::size_t>(n);
  }
  return out;
}

}  // namespace streamgate
