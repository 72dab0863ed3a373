// Acquire + release round trips per second through the quota pool actor, on the real
// (threaded) scheduler: what a session pays for its lease.

#include "actors/quota_pool.hpp"

#include <caf/all.hpp>

#include <benchmark/benchmark.h>

namespace streamgate {
namespace {

// An actor system on the real scheduler (two workers, as on the target machine) with one
// pool of 10 concurrent leases.
struct bench_pool {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  quota_pool_actor pool;

  bench_pool() {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    quota_options o;
    o.max_concurrent = 10;
    pool = sys->spawn(quota_pool, std::string{"bench"}, o, std::make_shared<quota_gauges>());
  }
  ~bench_pool() { caf::anon_send_exit(pool, caf::exit_reason::user_shutdown); }
};

// One caller: acquire, wait for the lease, release; repeated. Measures the full round trip.
void acquire_release_round_trip(benchmark::State& state) {
  bench_pool b;
  auto& pool = b.pool;
  caf::scoped_actor self{*b.sys};
  for (auto _ : state) {
    self->request(pool, caf::infinite, acquire_atom::value, std::uint32_t{1000})
        .receive(
            [&](quota_lease& l) {
              if (!l.granted) state.SkipWithError("refused");
              self->send(pool, release_atom::value, l.id);
            },
            [&](caf::error&) { state.SkipWithError("error"); });
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(acquire_release_round_trip)->UseRealTime();

constexpr int rounds_per_caller = 200;

// A session stand-in: acquire, release on grant, again, `rounds_per_caller` times.
caf::behavior bench_caller(caf::event_based_actor* self, quota_pool_actor pool, caf::actor done) {
  auto left = std::make_shared<int>(rounds_per_caller);
  self->send(pool, acquire_atom::value, std::uint32_t{60000});
  return {[=](quota_lease& l) {
    self->send(pool, release_atom::value, l.id);
    if (--*left > 0) {
      self->send(pool, acquire_atom::value, std::uint32_t{60000});
      return;
    }
    self->send(done, caf::ok_atom::value);
    self->quit();
  }};
}

// Many sessions at once against a pool of 10, so the FIFO queue is always busy. Reports
// grants per second through one pool actor.
void contended_pool(benchmark::State& state) {
  auto callers = static_cast<int>(state.range(0));
  bench_pool b;
  for (auto _ : state) {
    caf::scoped_actor self{*b.sys};
    for (int i = 0; i < callers; ++i) b.sys->spawn(bench_caller, b.pool, caf::actor{self});
    for (int i = 0; i < callers; ++i) self->receive([](caf::ok_atom) {});
  }
  state.SetItemsProcessed(state.iterations() * callers * rounds_per_caller);
}
BENCHMARK(contended_pool)->Arg(100)->Arg(1000)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace streamgate

BENCHMARK_MAIN();
