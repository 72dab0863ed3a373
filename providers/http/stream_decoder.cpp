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

// OpenAI's chat.completion.chunk stream (also NVIDIA NIM, Zhipu v4, Hunyuan, ...). Each
// choice's pieces go out as they come; the usage is held until every choice has ended, so
// that however a provider places it (its own chunk, beside a finish, on every chunk) the
// client gets it once, after the last choice's end and before the terminal finish.
class openai_decoder final : public stream_decoder {
 public:
  void on_sse(const sse_event& ev, std::vector<stream_event>& out) override {
    if (done_) return;
    if (ev.data == "[DONE]") return end_cleanly(out);
    // Chunks are almost always valid UTF-8: copy to repair one only when the reader refused it.
    if (!read_openai_chunk(ev.data, chunk_) && !read_openai_chunk(sanitize_utf8(ev.data), chunk_)) {
      emit_terminal(error_event(error_code::upstream_malformed,
                                "the provider sent an event that is not JSON (or is nested "
                                "deeper than 64 levels)"),
                    out);
      return;
    }
    if (chunk_.error) {
      emit_terminal(
          error_event(error_code::upstream_error, chunk_.error_message.empty()
                                                      ? "the provider reported an error mid-stream"
                                                      : std::move(chunk_.error_message)),
          out);
      return;
    }
    if (chunk_.malformed != nullptr) {
      emit_terminal(error_event(error_code::upstream_malformed,
                                std::string{"the provider sent "} + chunk_.malformed),
                    out);
      return;
    }
    for (auto& c : chunk_.choices) piece(c, out);
    if (chunk_.usage) {
      usage_ = stream_event::make_usage(*chunk_.usage);
      usage_->text = std::move(chunk_.usage_json);
    }
  }

  void on_end(std::vector<stream_event>& out) override {
    if (done_) return;
    // Some providers end after finish_reason without [DONE]: that is a clean end. Without
    // either, the stream was cut.
    if (any_ended_) return end_cleanly(out);
    emit_terminal(error_event(error_code::upstream_interrupted,
                              "the provider's stream ended before the answer was complete"),
                  out);
  }

 private:
  void piece(openai_choice& c, std::vector<stream_event>& out) {
    if (c.index >= ended_.size()) ended_.resize(c.index + 1, false);
    if (ended_[c.index]) c.finish_reason.clear();  // a choice ends once
    bool plain = c.delta_members.empty() && c.choice_members.empty() && c.finish_reason.empty();
    // Chunk-level members alone (an opening role chunk with a system_fingerprint) are no piece.
    if (plain && c.content.empty()) return;
    if (!c.finish_reason.empty()) {
      if (c.index == 0) reason0_ = c.finish_reason;
      ended_[c.index] = true;
      any_ended_ = true;
    }
    stream_event e;
    e.choice = c.index;
    e.text = std::move(c.content);
    if (!plain || !chunk_.chunk_members.empty()) e.fields = fields_of(c);  // takes c's members
    out.push_back(std::move(e));
  }

  // A piece's fields. Most providers repeat the same chunk-level members (a
  // system_fingerprint) on every chunk: such pieces share one object instead of one each.
  std::shared_ptr<const delta_fields> fields_of(openai_choice& c) {
    bool only_chunk =
        c.delta_members.empty() && c.choice_members.empty() && c.finish_reason.empty();
    if (only_chunk && last_chunk_only_ && last_chunk_only_->chunk == chunk_.chunk_members)
      return last_chunk_only_;
    auto f = std::make_shared<delta_fields>();
    f->delta = std::move(c.delta_members);
    f->choice = std::move(c.choice_members);
    f->chunk = chunk_.chunk_members;  // shared by the chunk's choices
    f->finish_reason = std::move(c.finish_reason);
    if (only_chunk) last_chunk_only_ = f;
    return f;
  }

  // Every choice seen ends (with "stop" where the provider sent no reason), then the usage,
  // then the terminal finish.
  void end_cleanly(std::vector<stream_event>& out) {
    if (ended_.empty()) ended_.push_back(false);  // an answer with no piece at all
    for (std::uint32_t i = 0; i < ended_.size(); ++i)
      if (!ended_[i]) out.push_back(stream_event::make_choice_end(i, "stop"));
    if (usage_) out.push_back(std::move(*usage_));
    emit_terminal(stream_event::make_finish(reason0_.empty() ? "stop" : reason0_), out);
  }

  openai_chunk chunk_;  // reused: a chunk's storage is kept from one to the next
  std::vector<bool> ended_;
  bool any_ended_ = false;  // some choice sent its finish_reason
  std::string reason0_;     // choice 0's finish_reason, the terminal event's
  std::optional<stream_event> usage_;
  std::shared_ptr<const delta_fields> last_chunk_only_;
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
      out.push_back(stream_event::make_choice_end(0, "stop"));
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
