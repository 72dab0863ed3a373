// Upstream SSE parsing throughput (MB/s): a realistic chat.completion.chunk stream fed in
// TCP-segment-sized pieces, as the curl driver hands it over.

#include "providers/http/sse_parser.hpp"
#include "providers/http/stream_decoder.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

std::string openai_stream(std::size_t bytes) {
  std::string out;
  for (int i = 0; out.size() < bytes; ++i) {
    out +=
        "data: {\"id\":\"chatcmpl-abc123\",\"object\":\"chat.completion.chunk\",\"created\":"
        "1732500000,\"model\":\"meta/llama-3.1-8b-instruct\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"content\":\"tok" +
        std::to_string(i) + " \"},\"finish_reason\":null}]}\n\n";
  }
  out += "data: [DONE]\n\n";
  return out;
}

void sse_parse(benchmark::State& state) {
  auto input = openai_stream(1 << 20);
  auto piece = static_cast<std::size_t>(state.range(0));
  std::size_t events = 0;
  for (auto _ : state) {
    streamgate::sse_parser parser;
    for (std::size_t at = 0; at < input.size(); at += piece) {
      parser.feed(std::string_view{input}.substr(at, piece),
                  [&](streamgate::sse_event& ev) { events += ev.data.size() > 0; });
    }
  }
  benchmark::DoNotOptimize(events);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
}
BENCHMARK(sse_parse)->Arg(1460)->Arg(16384);

// One chunk event into stream_events, as the curl driver thread does it per upstream chunk:
// the figure that bounds how many chunks per second the driver thread can pass on.
void openai_decode_chunk(benchmark::State& state) {
  streamgate::sse_event ev;
  ev.data =
      "{\"id\":\"chatcmpl-abc123\",\"object\":\"chat.completion.chunk\",\"created\":"
      "1732500000,\"model\":\"meta/llama-3.1-8b-instruct\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"content\":\"tok12 \"},\"finish_reason\":null}]}";
  auto decoder = streamgate::make_decoder(streamgate::adapter_kind::openai);
  std::vector<streamgate::stream_event> out;
  for (auto _ : state) {
    out.clear();
    decoder->on_sse(ev, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(openai_decode_chunk);

}  // namespace

BENCHMARK_MAIN();
