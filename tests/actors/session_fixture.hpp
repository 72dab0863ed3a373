#pragma once

// A session under the test coordinator, with sinks that record and providers that follow a
// script.

#include "actors/error_code.hpp"
#include "actors/router.hpp"
#include "actors/session.hpp"
#include "actors/session_registry.hpp"
#include "providers/mock_provider.hpp"
#include "tests/support/recording_sink.hpp"
#include "tests/support/test_coordinator_fixture.hpp"

#include <array>
#include <map>

namespace streamgate::test {

using namespace std::chrono_literals;

// A provider whose upstream replays a fixed script of events at once, for failure paths.
provider_actor::behavior_type scripted_provider(provider_actor::pointer self,
                                                std::vector<stream_event> script) {
  return {[self, script](open_atom, chat_request&, upstream_target& t) -> upstream_actor {
    return self->spawn([script, t](upstream_actor::pointer up) -> upstream_actor::behavior_type {
      for (auto& ev : script) up->send(t.session, upstream_atom::value, t.attempt, ev);
      return {[up](cancel_atom) { up->quit(); }};
    });
  }};
}

class session_fixture : public coordinator_fixture {
 protected:
  ~session_fixture() override {
    for (auto& s : registry.all()) caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    sched->run();
  }

  struct route_entry {
    std::string name;
    provider_actor provider;
    quota_pool_actor pool = {};
  };

  // Providers whose sessions start transfers themselves, as the engine routes HTTP providers.
  std::map<std::string, upstream_opener_ptr> openers;

  // Routes model "m" to the given providers, in order.
  void route(std::vector<route_entry> providers) {
    router_config rc;
    for (auto& p : providers) {
      rc.routes["m"].targets.push_back({p.name, 1});
      if (p.pool) rc.pools[p.name] = p.pool;
    }
    table = std::make_shared<route_table>(rc);
    router = keep(sys->spawn(router_behavior, table));
    for (auto& p : providers) {
      auto opener = openers.find(p.name);
      if (opener != openers.end())
        caf::anon_send(router, provider_atom::value, p.name, keep(p.provider), opener->second);
      else
        caf::anon_send(router, provider_atom::value, p.name, keep(p.provider));
    }
    sched->run();
  }

  // A mock provider streaming {tokens, first_token_ms, interval_ms}.
  provider_actor mock(std::array<std::uint32_t, 3> shape = {3, 100, 10}) {
    mock_config mc;
    mc.tokens = shape[0];
    mc.first_token_ms = shape[1];
    mc.interval_ms = shape[2];
    return sys->spawn(mock_provider, mc, &registry.upstreams);
  }

  provider_actor scripted(std::vector<stream_event> script) {
    return sys->spawn(scripted_provider, std::move(script));
  }

  session_actor start(std::shared_ptr<recording_sink> sink, bool cancel_on_detach = false,
                      std::string model = "m") {
    chat_request request;
    request.model = std::move(model);
    request.body = {{"messages", nlohmann::json::array()}};
    return start(std::move(sink), std::move(request), cancel_on_detach);
  }

  // A session for a whole request (e.g. one parse_chat_request made), its first sink `sink`.
  session_actor start(std::shared_ptr<recording_sink> sink, chat_request request,
                      bool cancel_on_detach = false) {
    session_init init;
    init.id = session_registry::new_id();
    init.request = std::move(request);
    init.first_sink = sink;
    init.cancel_on_detach = cancel_on_detach;
    // As the engine publishes it; a test may replace it later.
    router_slot->set(router, route_by_table ? table : nullptr);
    init.router = router_slot;
    init.health = health;
    init.registry = &registry;
    init.options = options;
    init.budget = budget;
    auto id = init.id;
    auto h = *registry.add(id, 100000, [&] { return sys->spawn(session_behavior, init); });
    sched->run();
    return h;
  }

  session_state& state_of(const session_actor& h) {
    return coordinator_fixture::state_of<session_state, session_impl>(h);
  }

  session_registry registry;
  std::shared_ptr<log_budget> budget;  // null: the logs are not bounded
  router_actor router;
  std::shared_ptr<router_ref> router_slot = std::make_shared<router_ref>();
  // Sessions read their plans from the router's table, as in the engine; false: they ask the
  // router actor.
  std::shared_ptr<route_table> table;
  bool route_by_table = true;
  provider_health_actor health;
  session_options options = [] {
    session_options o;
    o.resume_window = std::chrono::seconds(1);
    return o;
  }();
};

}  // namespace streamgate::test
