// What access control costs a stream (issue 21: at most 2 % of the gateway's CPU per stream;
// bench/report.py sets these against the CPU per stream measured in the same run).
//
// BM_key_check/N: one request's key checked against N configured keys (hash once, compare
// with each in constant time). BM_stream_accounting: everything a keyed stream costs in
// access/: the check, the start's limits (rpm, streams, tokens), the meter counting each of
// 64 deltas and the usage, the slot given back at the end; the engine is a stand-in that
// does nothing.
#include "access/access_control.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace streamgate;

class idle_engine final : public session_service {
 public:
  std::vector<model_info> models() const override { return {{"fake", "x"}}; }
  start_outcome start(chat_request, start_options opts) override {
    observer = std::move(opts.observer);
    return {"sess_" + std::to_string(++n), "", ""};
  }
  bool attach(const std::string&, std::uint64_t, sink_ptr) override { return true; }
  void detach(const std::string&, const sink_ptr&) override {}
  bool cancel(const std::string&) override { return true; }
  engine_counts counts() const override { return {}; }
  sink_ptr observer;
  std::uint64_t n = 0;
};

std::string key_number(int i) {
  return "sk-bench-key-" + std::to_string(i) + "-0123456789abcdef0123456789";
}

access_config with_keys(int n) {
  access_config cfg;
  for (int i = 0; i < n; ++i) {
    gateway_key k;
    k.name = "key" + std::to_string(i);
    k.digest = sha256(key_number(i));
    k.limits.rpm = 1000000000;
    k.limits.max_streams = 1000000;
    k.limits.tpm = 1000000000000;
    cfg.keys.push_back(k);
  }
  cfg.per_client.session_rpm = 1000000000;  // counted (a lookup per start), never refusing
  return cfg;
}

void BM_key_check(benchmark::State& state) {
  idle_engine engine;
  access_control access{with_keys(static_cast<int>(state.range(0))), engine};
  auto header = "Bearer " + key_number(static_cast<int>(state.range(0)) - 1);
  for (auto _ : state)
    benchmark::DoNotOptimize(access.authenticate(access_control::bearer_token(header)));
}
BENCHMARK(BM_key_check)->Arg(1)->Arg(16)->Arg(256);

void BM_stream_accounting(benchmark::State& state) {
  idle_engine engine;
  access_control access{with_keys(16), engine};
  auto header = "Bearer " + key_number(7);
  client_address from{"192.0.2.1", false};
  auto piece = std::make_shared<const stream_event>([] {
    stream_event e;
    e.kind = event_kind::delta;
    e.text = "token";
    return e;
  }());
  auto usage = std::make_shared<const stream_event>([] {
    stream_event e;
    e.kind = event_kind::usage;
    e.usage.prompt_tokens = 10;
    e.usage.completion_tokens = 64;
    return e;
  }());
  auto done = std::make_shared<const stream_event>([] {
    stream_event e;
    e.kind = event_kind::finish;
    return e;
  }());
  chat_request req;
  req.model = "fake";
  for (auto _ : state) {
    auto* who = access.authenticate(access_control::bearer_token(header));
    auto out = access.start(*who, from, req, {});
    for (int i = 0; i < 64; ++i) engine.observer->deliver(piece);
    engine.observer->deliver(usage);
    engine.observer->deliver(done);
    engine.observer.reset();  // the session goes
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_stream_accounting);

}  // namespace

BENCHMARK_MAIN();
