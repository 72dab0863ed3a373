// What a stream's start and end cost its provider actor with N other streams alive: linked
// to the provider (how streams were tied to it before) against in its stream_group (now).
// CAF scans the provider's list of links on every unlink, so the linked figure grows with N.

#include "providers/stream_group.hpp"

#include <caf/all.hpp>

#include <benchmark/benchmark.h>

#include <deque>

namespace streamgate {
namespace {

// Quits normally when told: a failing stream would take a linked provider down with it.
caf::behavior idle_stream(caf::event_based_actor* self) {
  return {[self](int) { self->quit(); }};
}

// Spawns a stream per request and answers with it; `grouped` picks how the stream is tied to
// the provider.
caf::behavior provider(caf::event_based_actor* self, bool grouped) {
  auto group = stream_group::of(self);
  return {[=](int) -> caf::actor {
    if (!grouped) return self->spawn<caf::linked>(idle_stream);
    auto s = self->spawn(idle_stream);
    group->join(caf::actor_cast<caf::strong_actor_ptr>(s));
    return s;
  }};
}

void stream_start_and_end(benchmark::State& state, bool grouped) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  cfg.set("work-stealing.moderate-poll-attempts", size_t{0});  // as app/main.cpp
  caf::actor_system sys{cfg};
  auto prov = sys.spawn(provider, grouped);
  caf::scoped_actor self{sys};
  auto open = [&] {
    caf::actor s;
    self->request(prov, caf::infinite, 1)
        .receive([&](caf::actor& a) { s = a; }, [&](caf::error&) {});
    return s;
  };
  // N streams alive; each round one starts and the oldest ends, as streams of equal length
  // do under a steady load.
  std::deque<caf::actor> live;
  for (auto i = 0; i < state.range(0); ++i) live.push_back(open());
  for (auto _ : state) {
    live.push_back(open());
    auto oldest = std::move(live.front());
    live.pop_front();
    self->monitor(oldest);
    self->send(oldest, 0);
    self->receive([](caf::down_msg&) {});
  }
  state.SetItemsProcessed(state.iterations());
  for (auto& s : live) self->send(s, 0);
  self->send_exit(prov, caf::exit_reason::user_shutdown);
}

void linked_stream(benchmark::State& state) {
  stream_start_and_end(state, false);
}
void grouped_stream(benchmark::State& state) {
  stream_start_and_end(state, true);
}
BENCHMARK(linked_stream)->Arg(100)->Arg(1000)->Arg(10000)->UseRealTime();
BENCHMARK(grouped_stream)->Arg(100)->Arg(1000)->Arg(10000)->UseRealTime();

}  // namespace
}  // namespace streamgate

BENCHMARK_MAIN();
