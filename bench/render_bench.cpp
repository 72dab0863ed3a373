// Rendering one delta to the client's wire format (events/s): an OpenAI SSE event with its
// HTTP chunk framing, as the SSE transport writes it (event_response), and a WebSocket JSON
// text frame, as ws_connection writes it.

#include "transports/http/event_response.hpp"
#include "transports/ws/ws_frame.hpp"
#include "transports/ws/ws_protocol.hpp"

#include <benchmark/benchmark.h>

namespace {

void render_sse_delta(benchmark::State& state) {
  streamgate::event_response r;
  r.start(streamgate::event_response::kind::sse, "sess_0123456789abcdef0123456789abcdef", "mock",
          false, 11, true);
  auto ev = streamgate::stream_event::make_delta("token ");
  for (auto _ : state) {
    ++ev.seq;
    r.add(ev);
    benchmark::DoNotOptimize(r.pending_bytes().data());
    r.pending_bytes().clear();  // as the connection does once the socket took the bytes
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(render_sse_delta);

void render_ws_delta(benchmark::State& state) {
  // As ws_connection::deliver_now does it: the event's text into a reused buffer, framed.
  auto ev = streamgate::stream_event::make_delta("token ");
  std::string text;
  std::string out;
  for (auto _ : state) {
    ++ev.seq;
    text.clear();
    streamgate::ws::append_event(text, "1", ev);
    streamgate::ws::append_frame(out, streamgate::ws::opcode::text, text);
    benchmark::DoNotOptimize(out.data());
    out.clear();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(render_ws_delta);

}  // namespace

BENCHMARK_MAIN();
