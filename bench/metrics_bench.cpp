// The cost the metrics add to the hot path: a counter increment and a histogram observation,
// from one thread and from several at once (they must not serialise on a lock).

#include "telemetry/metrics.hpp"

#include <benchmark/benchmark.h>

namespace {

streamgate::metrics::registry& reg() {
  static streamgate::metrics::registry r;
  return r;
}

streamgate::metrics::counter& a_counter() {
  static auto& c = reg().add_counter("bench_total", "x", {"t"}).with({"sse"});
  return c;
}

streamgate::metrics::histogram& a_histogram() {
  static auto& h =
      reg()
          .add_histogram("bench_seconds", "x", {"t"}, streamgate::metrics::latency_buckets())
          .with({"sse"});
  return h;
}

void counter_inc(benchmark::State& state) {
  auto& c = a_counter();
  for (auto _ : state) c.inc();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(counter_inc)->Threads(1)->Threads(2)->Threads(4);

void histogram_observe(benchmark::State& state) {
  auto& h = a_histogram();
  double v = 0.0003;
  for (auto _ : state) {
    h.observe(v);
    v = v < 1 ? v * 1.7 : 0.0003;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(histogram_observe)->Threads(1)->Threads(2)->Threads(4);

void labelled_lookup(benchmark::State& state) {
  static auto& f = reg().add_counter("bench_lookup_total", "x", {"transport", "model", "outcome"});
  for (auto _ : state) f.with({"sse", "mock", "ok"}).inc();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(labelled_lookup);

}  // namespace

BENCHMARK_MAIN();
