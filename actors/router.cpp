#include "actors/router.hpp"

#include <caf/all.hpp>

namespace streamgate {

router_actor::behavior_type router_behavior(router_pointer self, router_config config) {
  self->state.config = std::move(config);
  return {
      [self](route_atom, const std::string& model) {
        route_plan plan;
        auto& st = self->state;
        auto it = st.config.routes.find(model);
        if (it == st.config.routes.end()) return plan;
        for (auto& name : it->second) {
          auto p = st.providers.find(name);
          if (p != st.providers.end() && p->second) plan.candidates.push_back({name, p->second});
        }
        return plan;
      },
      // A null handle means the provider is down (restarting or given up).
      [self](provider_atom, std::string& name, provider_actor& handle) {
        self->state.providers[name] = std::move(handle);
      },
  };
}

}  // namespace streamgate
