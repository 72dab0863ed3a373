// Rendering one delta to the client's wire format (events/s): an OpenAI SSE event with its
// HTTP chunk framing, as the SSE transport writes it, and a WebSocket JSON text frame's
// payload.

#include "transports/openai_format.hpp"
#include "transports/ws_protocol.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>

namespace {

void render_sse_delta(benchmark::State& state) {
  streamgate::openai::completion_context ctx{"chatcmpl-sess_0123456789abcdef0123456789abcdef",
                                             "mock", 1732500000};
  std::string out;
  std::uint64_t seq = 0;
  for (auto _ : state) {
    out.clear();
    auto frame = std::string{};
    ++seq;
    streamgate::openai::append_sse(frame, seq,
                                   streamgate::openai::delta_chunk(ctx, "token ", seq == 1));
    char size[20];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", frame.size());
    out.append(size, static_cast<std::size_t>(n));
    out += frame;
    out += "\r\n";
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(render_sse_delta);

void render_ws_delta(benchmark::State& state) {
  auto ev = streamgate::stream_event::make_delta("token ");
  for (auto _ : state) {
    ++ev.seq;
    auto frame = streamgate::ws::event("1", ev);
    benchmark::DoNotOptimize(frame.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(render_ws_delta);

}  // namespace

BENCHMARK_MAIN();
