#pragma once

// An actor system on CAF's deterministic test coordinator: virtual time, one thread, no
// sleeps. Actor tests derive their fixture from this.

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <type_traits>
#include <vector>

namespace streamgate::test {

class coordinator_fixture : public ::testing::Test {
 protected:
  coordinator_fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
  }

  ~coordinator_fixture() override {
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched->run();
  }

  template <class Handle>
  Handle keep(Handle h) {
    spawned.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  // Advances virtual time in small steps, running every message each step causes.
  void advance(std::chrono::milliseconds total,
               std::chrono::milliseconds step = std::chrono::milliseconds(10)) {
    for (auto t = std::chrono::milliseconds(0); t < total; t += step) {
      sched->advance_time(step);
      sched->run();
    }
  }

  // The state of the actor behind `h`. `Impl`: the interface the actor was spawned with, when
  // the handle is a narrower one (an interface without the actor's own timers).
  template <class State, class Impl = void, class Handle>
  State& state_of(const Handle& h) {
    using impl = std::conditional_t<std::is_void_v<Impl>, Handle, Impl>;
    using base = typename impl::template stateful_base<State>;
    return dynamic_cast<base&>(*caf::actor_cast<caf::abstract_actor*>(h)).state;
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::vector<caf::actor> spawned;
};

}  // namespace streamgate::test
