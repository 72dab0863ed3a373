#include "cluster/wire_event.hpp"

namespace streamgate {

wire_event to_wire(const stream_event& ev) {
  wire_event w;
  w.seq = ev.seq;
  w.kind = static_cast<std::uint8_t>(ev.kind);
  w.text = ev.text;
  w.code = ev.code;
  w.prompt_tokens = ev.usage.prompt_tokens;
  w.completion_tokens = ev.usage.completion_tokens;
  w.retry_after_s = ev.retry_after_s;
  w.choice = ev.choice;
  if (ev.fields) {
    w.has_fields = true;
    w.delta_fields = ev.fields->delta;
    w.choice_fields = ev.fields->choice;
    w.chunk_fields = ev.fields->chunk;
    w.finish_reason = ev.fields->finish_reason;
  }
  return w;
}

std::shared_ptr<const stream_event> from_wire(const wire_event& w) {
  if (w.kind > static_cast<std::uint8_t>(event_kind::heartbeat)) return nullptr;
  auto ev = std::make_shared<stream_event>();
  ev->seq = w.seq;
  ev->kind = static_cast<event_kind>(w.kind);
  ev->text = w.text;
  ev->code = w.code;
  ev->usage = {w.prompt_tokens, w.completion_tokens};
  ev->retry_after_s = w.retry_after_s;
  ev->choice = w.choice;
  if (w.has_fields) {
    auto f = std::make_shared<delta_fields>();
    f->delta = w.delta_fields;
    f->choice = w.choice_fields;
    f->chunk = w.chunk_fields;
    f->finish_reason = w.finish_reason;
    ev->fields = std::move(f);
  }
  return ev;
}

}  // namespace streamgate
