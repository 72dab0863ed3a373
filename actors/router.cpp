#include "actors/router.hpp"

#include <caf/all.hpp>

namespace streamgate {

router_actor::behavior_type router_behavior(router_pointer self,
                                            std::shared_ptr<route_table> table) {
  self->state.table = std::move(table);
  auto& t = *self->state.table;
  return {
      [&t](route_atom, const std::string& model) { return t.plan(model); },
      [&t](lookup_atom, const std::string& model) { return t.lookup(model); },
      [&t](provider_atom, const std::string& name, provider_actor& handle) {
        t.set_provider(name, std::move(handle), nullptr);
      },
      [&t](provider_atom, const std::string& name, provider_actor& handle,
           upstream_opener_ptr& opener) {
        t.set_provider(name, std::move(handle), std::move(opener));
      },
      [&t](provider_atom, const std::string& name) { t.set_down(name); },
      [&t](pool_atom, const std::string& name, quota_pool_actor& pool) {
        t.set_pool(name, std::move(pool));
      },
      [&t](health_atom, const std::string& name, std::uint32_t admits) {
        t.set_admits(name, admits);
      },
  };
}

}  // namespace streamgate
