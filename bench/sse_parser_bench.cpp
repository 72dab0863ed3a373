// Upstream SSE parsing throughput (MB/s): a realistic chat.completion.chunk stream fed in
// TCP-segment-sized pieces, as the curl driver hands it over.

#include "providers/http/sse_parser.hpp"

#include <benchmark/benchmark.h>

#include <string>

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

}  // namespace

BENCHMARK_MAIN();
