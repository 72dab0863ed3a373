// Actor activations per stream (issue 22), counted on CAF's deterministic test coordinator in
// the production shape: a route table with one route to an HTTP provider (its driver thread played
// by a scripted transfer_runner) that has a quota pool, and a health actor standing in for the
// engine's circuit breakers. An activation is one job the coordinator runs (one resume of one
// actor: its initialization, or one message). Three phases of one stream are counted:
//   (a) set-up: from the session's spawn until the transfer has started (and until the
//       session holds its upstream's handle, when the set-up path is quiet);
//   (b) the first token: the driver delivers the first delta through the lane;
//   (c) the end: the driver delivers the terminal event, until the session has handled it
//       and its lease is back in the pool;
// and, after those, (d) the timers the stream armed (request timeouts, attempt deadline,
// resume window), which fire whether or not anything is left to do.
// Each count is printed with the actor and the message of each job, recorded as a test
// property, and held to an upper bound.

#include "actors/quota_pool.hpp"
#include "tests/actors/scripted_runner.hpp"
#include "tests/actors/session_fixture.hpp"

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace streamgate {
namespace {

using namespace std::chrono_literals;
using test::recording_sink;

// The bounds are the counts measured at this commit: lower them as hops are removed from the
// path (issue 22); a count above its bound is a regression. They were 7, 8, 2 and 4 before
// the session read its plan from the route table (no route_atom to the router, no reply) and
// started its transfer itself through the provider's opener (no open_atom to the provider, no
// upstream stream actor to start, no reply, and at the end no relay of the terminal event).
constexpr std::size_t max_setup_to_transfer = 3;  // (a): spawn until the transfer started
constexpr std::size_t max_setup = 3;              // (a): spawn until the set-up path is quiet
constexpr std::size_t max_first_token = 2;        // (b)
constexpr std::size_t max_end = 2;                // (c)
// (d): the stream's timers, afterwards. The three requests' stale timeouts reach the session
// together here and cost one activation (dropped messages do not end a resume); under the real
// clock they may cost up to three.
constexpr std::size_t max_timers = 3;

// The engine's circuit breakers, reduced to a counter of reported outcomes.
provider_health_actor::behavior_type health_counter(provider_health_actor::pointer,
                                                    std::size_t* outcomes) {
  return {[outcomes](outcome_atom, const std::string&, bool) { ++*outcomes; }};
}

// CAF 0.17.6's mailbox peek casts a queue's sentinel node to a message before it checks for
// the end, which UBSan reports (a vptr downcast inside CAF's task_queue): the sanitizer build
// names the actors only. The counts do not depend on it.
#ifdef __SANITIZE_ADDRESS__
constexpr bool peek_messages = false;
#else
constexpr bool peek_messages = true;
#endif

// One job the coordinator ran: which actor, and what it handled.
struct hop {
  std::string actor;
  std::string message;
};

std::string describe(const caf::type_erased_tuple& m) {
  if (m.empty()) return "()";
  if (m.match_element<caf::atom_value>(0)) return caf::to_string(m.get_as<caf::atom_value>(0));
  if (m.match_element<route_plan>(0)) return "route_plan";
  if (m.match_element<quota_lease>(0)) return "quota_lease";
  if (m.match_element<upstream_actor>(0)) return "upstream_actor";
  if (m.match_element<caf::down_msg>(0)) return "down_msg";
  if (m.match_element<caf::exit_msg>(0)) return "exit_msg";
  if (m.match_element<caf::error>(0)) return "error";
  return "?";
}

std::string to_string(const std::vector<hop>& trace) {
  std::ostringstream out;
  for (std::size_t i = 0; i < trace.size(); ++i)
    out << "  " << (i + 1) << ". " << trace[i].actor << ": " << trace[i].message << "\n";
  return out.str();
}

class activations_test : public test::session_fixture {
 protected:
  activations_test() {
    http_provider_config pc;
    pc.name = "h";
    pc.base_url = "http://h.test/v1";
    auto parts = test::spawn_http_provider(*sys, pc, runner, &registry.upstreams);
    provider = keep(parts.handle);
    openers["h"] = parts.opener;
    quota_options qo;
    qo.max_concurrent = 100;
    pool = keep(sys->spawn(quota_pool, std::string{"h"}, qo, gauges));
    health = keep(sys->spawn(health_counter, &outcomes));
    options = session_options{};  // the production defaults, not the fixture's short window
    route({{"h", provider, pool}});
    name(router, "router");
    name(provider, "http_provider");
    name(pool, "quota_pool");
    name(health, "health (engine)");
  }

  template <class Handle>
  void name(const Handle& h, std::string label) {
    labels[caf::actor_cast<caf::actor_addr>(h)] = std::move(label);
  }

  // The next job: its actor, and the message it will handle (or its initialization).
  hop next_hop() {
    auto* a = dynamic_cast<caf::scheduled_actor*>(sched->jobs.front());
    if (a == nullptr) return {"(not an actor)", ""};
    auto label = labels.find(a->address());
    hop h{label != labels.end() ? label->second : std::string{a->name()}, ""};
    if (!a->getf(caf::abstract_actor::is_initialized_flag)) h.message = "(spawned)";
    if (!peek_messages) return h;
    auto* e = a->mailbox().peek();
    if (e == nullptr) return h;
    if (!h.message.empty()) h.message += " + ";
    if (e->mid.is_response()) h.message += "reply ";
    h.message += describe(e->content());
    return h;
  }

  // Runs one job at a time until `done` holds (or nothing is left), recording each.
  std::size_t run_until(std::vector<hop>& trace, const std::function<bool()>& done) {
    std::size_t n = 0;
    while (sched->has_job() && !done()) {
      trace.push_back(next_hop());
      sched->run_once();
      ++n;
    }
    return n;
  }
  std::size_t run_all(std::vector<hop>& trace) {
    return run_until(trace, [] { return false; });
  }

  // session_fixture::start without running the scheduler.
  session_actor spawn_session(std::shared_ptr<recording_sink> sink) {
    session_init init;
    init.id = session_registry::new_id();
    init.request.model = "m";
    init.request.body = {{"messages", nlohmann::json::array()}};
    init.first_sink = std::move(sink);
    router_slot->set(router, table);
    init.router = router_slot;
    init.health = health;
    init.registry = &registry;
    init.options = options;
    auto id = init.id;
    auto h = *registry.add(id, 100000, [&] { return sys->spawn(session_behavior, init); });
    name(h, "session");
    return h;
  }

  // Advances virtual time past every timer a stream started now would arm, in order: the
  // requests' timeouts (open_timeout: CAF 0.17 does not cancel them when the answer came,
  // the stale error is dropped on arrival, but it is delivered), the attempt deadline, the
  // resume window after the end (the set-up and the stream took no virtual time).
  std::size_t run_timers(std::vector<hop>& trace) {
    std::vector<std::chrono::milliseconds> due{options.open_timeout, options.attempt_deadline,
                                               options.resume_window};
    std::sort(due.begin(), due.end());
    std::size_t n = 0;
    std::chrono::milliseconds elapsed{0};
    for (auto at : due) {
      sched->advance_time(at + 1ms - elapsed);
      elapsed = at + 1ms;
      n += run_all(trace);
    }
    return n;
  }

  // What the driver thread does: hand transfer `id`'s next event to its owner.
  void driver_delivers(transfer_id id, stream_event ev) { runner->callbacks.at(id)(std::move(ev)); }

  void report(const std::string& key, std::size_t count, const std::vector<hop>& trace) {
    std::cout << key << " = " << count << "\n" << to_string(trace);
    ::testing::Test::RecordProperty(key, static_cast<int>(count));
  }

  std::shared_ptr<test::scripted_runner> runner = std::make_shared<test::scripted_runner>();
  quota_gauges_ptr gauges = std::make_shared<quota_gauges>();
  provider_actor provider;
  quota_pool_actor pool;
  std::size_t outcomes = 0;
  std::map<caf::actor_addr, std::string> labels;
};

TEST_F(activations_test, one_stream_set_up_first_token_and_end) {
  ASSERT_FALSE(sched->has_job());
  auto sink = std::make_shared<recording_sink>();

  // (a) Set-up: the session's spawn until the transfer started, then until quiet.
  std::vector<hop> setup;
  auto s = spawn_session(sink);
  auto to_transfer = run_until(setup, [&] { return !runner->requests.empty(); });
  ASSERT_EQ(runner->requests.size(), 1u);
  auto setup_total = to_transfer + run_all(setup);
  report("setup_to_transfer_activations", to_transfer, setup);
  report("setup_activations", setup_total, {});
  EXPECT_TRUE(state_of(s).transfer);
  EXPECT_EQ(gauges->leases_in_use.load(), 1);
  EXPECT_LE(to_transfer, max_setup_to_transfer);
  EXPECT_LE(setup_total, max_setup);

  // (b) The first token: the driver thread appends it to the log (the lane), the session
  // hears of it once.
  std::vector<hop> first;
  driver_delivers(1, stream_event::make_delta("Hel"));
  EXPECT_EQ(sink->text(), "Hel");  // out before any actor ran
  auto first_token = run_all(first);
  report("first_token_activations", first_token, first);
  EXPECT_EQ(state_of(s).phase, session_phase::streaming);
  EXPECT_EQ(outcomes, 1u);
  EXPECT_LE(first_token, max_first_token);

  // Later deltas take no activation at all.
  driver_delivers(1, stream_event::make_delta("lo"));
  EXPECT_EQ(sched->run(), 0u);
  EXPECT_EQ(sink->text(), "Hello");

  // (c) The end: the terminal event, until the session has handled it and the lease is back.
  std::vector<hop> end;
  driver_delivers(1, stream_event::make_finish("stop"));
  auto end_count = run_all(end);
  report("end_activations", end_count, end);
  EXPECT_EQ(sink->last().kind, event_kind::finish);
  EXPECT_EQ(state_of(s).lease_id, 0u);
  EXPECT_EQ(gauges->leases_in_use.load(), 0);
  EXPECT_EQ(registry.upstreams.load(), 0);
  EXPECT_LE(end_count, max_end);

  // (d) Afterwards, with nothing left to stream: the timers the stream armed, each firing.
  // Not one of the three phases, but activations per stream all the same.
  std::vector<hop> after;
  auto after_count = run_timers(after);
  report("timer_activations", after_count, after);
  EXPECT_TRUE(registry.all().empty());
  EXPECT_LE(after_count, max_timers);
}

// Several streams at once cost what one costs, times their number: the counts are per
// stream, nothing is shared or batched. Counted here by sched->run()'s own tally.
TEST_F(activations_test, the_counts_are_per_stream) {
  struct counts {
    std::size_t setup = 0, first_token = 0, end = 0, timers = 0;
  };
  std::size_t next_transfer = 1;
  auto streams = [&](std::size_t n) {
    counts c;
    std::vector<std::shared_ptr<recording_sink>> sinks;
    for (std::size_t i = 0; i < n; ++i) {
      sinks.push_back(std::make_shared<recording_sink>());
      spawn_session(sinks.back());
    }
    c.setup = sched->run();
    EXPECT_EQ(runner->requests.size(), next_transfer - 1 + n);
    EXPECT_EQ(gauges->leases_in_use.load(), static_cast<std::int64_t>(n));
    for (std::size_t i = 0; i < n; ++i)
      driver_delivers(next_transfer + i, stream_event::make_delta("a"));
    c.first_token = sched->run();
    for (std::size_t i = 0; i < n; ++i)
      driver_delivers(next_transfer + i, stream_event::make_finish("stop"));
    c.end = sched->run();
    EXPECT_EQ(gauges->leases_in_use.load(), 0);
    for (auto& sink : sinks) EXPECT_EQ(sink->last().kind, event_kind::finish);
    // The sessions' timers only: the pool's minutely look at its rate window (a tick per
    // pool, not per stream) falls into the second batch's time.
    std::vector<hop> timers;
    run_timers(timers);
    c.timers = static_cast<std::size_t>(std::count_if(
        timers.begin(), timers.end(), [](const hop& h) { return h.actor == "session"; }));
    EXPECT_TRUE(registry.all().empty());
    next_transfer += n;
    return c;
  };

  constexpr std::size_t n = 4;
  auto one = streams(1);
  auto all = streams(n);
  std::cout << n << " streams: setup_activations = " << all.setup
            << ", first_token_activations = " << all.first_token
            << ", end_activations = " << all.end << ", timer_activations = " << all.timers
            << " (one stream: " << one.setup << ", " << one.first_token << ", " << one.end << ", "
            << one.timers << ")\n";
  ::testing::Test::RecordProperty("streams", static_cast<int>(n));
  ::testing::Test::RecordProperty("setup_activations_all", static_cast<int>(all.setup));
  ::testing::Test::RecordProperty("first_token_activations_all", static_cast<int>(all.first_token));
  ::testing::Test::RecordProperty("end_activations_all", static_cast<int>(all.end));
  ::testing::Test::RecordProperty("timer_activations_all", static_cast<int>(all.timers));
  EXPECT_EQ(all.setup, n * one.setup);
  EXPECT_EQ(all.first_token, n * one.first_token);
  EXPECT_EQ(all.end, n * one.end);
  EXPECT_EQ(all.timers, n * one.timers);
  EXPECT_LE(one.setup, max_setup);
  EXPECT_LE(one.first_token, max_first_token);
  EXPECT_LE(one.end, max_end);
  EXPECT_LE(one.timers, max_timers);
}

}  // namespace
}  // namespace streamgate
