#include "supervision/engine.hpp"

#include "actors/router.hpp"
#include "actors/session_registry.hpp"
#include "providers/mock_provider.hpp"
#include "telemetry/log.hpp"

#include <caf/all.hpp>

namespace streamgate {
namespace {

router_config routes_of(const gateway_config& cfg) {
  router_config rc;
  rc.routes = cfg.routes;
  for (auto& p : cfg.providers) {
    for (auto& m : p.models) {
      if (cfg.routes.count(m) == 0) rc.routes[m].push_back(p.name);
    }
  }
  return rc;
}

provider_actor spawn_provider(engine_pointer self, const provider_entry& entry) {
  auto& st = self->state;
  return self->spawn<caf::linked>(mock_provider, entry.mock, &st.registry->upstreams);
}

}  // namespace

engine_actor::behavior_type engine_behavior(engine_pointer self, gateway_config config,
                                            session_registry* registry) {
  auto& st = self->state;
  st.config = std::move(config);
  st.registry = registry;
  st.router = self->spawn<caf::linked>(router_behavior, routes_of(st.config));
  for (auto& entry : st.config.providers) {
    auto handle = spawn_provider(self, entry);
    st.providers[entry.name] = handle;
    self->send(st.router, provider_atom::value, entry.name, handle);
    log::debug("provider_started", {{"provider", entry.name}, {"kind", entry.kind}});
  }
  return {
      [self](get_router_atom) { return self->state.router; },
  };
}

}  // namespace streamgate
