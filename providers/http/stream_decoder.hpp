#pragma once

#include "providers/http/sse_parser.hpp"

#include <streamgate/stream_event.hpp>

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <vector>

namespace streamgate {

enum class adapter_kind { openai, zhipu_legacy };

// Turns one provider's SSE events into stream_events. Exactly one terminal event comes out
// of a decoder, either from an event or from on_end(); usage always precedes the finish.
class stream_decoder {
 public:
  virtual ~stream_decoder() = default;
  virtual void on_sse(const sse_event& ev, std::vector<stream_event>& out) = 0;
  // The response body ended cleanly (EOF after a complete response).
  virtual void on_end(std::vector<stream_event>& out) = 0;

 protected:
  void emit_terminal(stream_event ev, std::vector<stream_event>& out) {
    if (done_) return;
    done_ = true;
    out.push_back(std::move(ev));
  }
  bool done_ = false;
};

std::unique_ptr<stream_decoder> make_decoder(adapter_kind kind);

// An OpenAI `usage` object's token counts (zeros for anything missing).
usage_info usage_of(const nlohmann::json& usage);

// Replaces every invalid UTF-8 sequence by U+FFFD, so no malformed byte is ever forwarded.
std::string sanitize_utf8(std::string_view in);

}  // namespace streamgate
