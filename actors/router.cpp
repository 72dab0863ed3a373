#include "actors/router.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace streamgate {

std::vector<std::size_t> order_candidates(const route_config& route,
                                          std::vector<std::size_t> eligible,
                                          std::map<std::string, std::int64_t>& wrr_current,
                                          const std::map<std::string, quota_gauges_ptr>& gauges) {
  if (eligible.size() < 2) return eligible;
  switch (route.strategy) {
    case route_strategy::priority:
      break;
    case route_strategy::weighted: {
      // nginx's smooth weighted round-robin: over any sum-of-weights requests each provider
      // leads exactly weight times, interleaved rather than in runs.
      std::int64_t total = 0;
      std::size_t best = 0;
      for (std::size_t i = 0; i < eligible.size(); ++i) {
        auto& t = route.targets[eligible[i]];
        auto& cur = wrr_current[t.provider];
        cur += t.weight;
        total += t.weight;
        if (cur > wrr_current[route.targets[eligible[best]].provider]) best = i;
      }
      wrr_current[route.targets[eligible[best]].provider] -= total;
      std::rotate(eligible.begin(), eligible.begin() + static_cast<std::ptrdiff_t>(best),
                  eligible.begin() + static_cast<std::ptrdiff_t>(best) + 1);
      break;
    }
    case route_strategy::least_loaded: {
      auto share = [&](std::size_t i) {
        auto g = gauges.find(route.targets[i].provider);
        return g == gauges.end() || !g->second ? 1.0 : g->second->free_share();
      };
      std::stable_sort(eligible.begin(), eligible.end(),
                       [&](std::size_t a, std::size_t b) { return share(a) > share(b); });
      break;
    }
  }
  return eligible;
}

namespace {

route_candidate candidate_of(router_state& st, const std::string& name) {
  auto pool = st.config.pools.find(name);
  auto opener = st.openers.find(name);
  return {name, st.providers[name],
          pool == st.config.pools.end() ? quota_pool_actor{} : pool->second,
          opener == st.openers.end() ? nullptr : opener->second};
}

// A null handle means the provider is down (restarting or given up).
void set_provider(router_state& st, std::string name, provider_actor handle,
                  upstream_opener_ptr opener) {
  if (handle) st.down.erase(name);
  if (handle && opener)
    st.openers[name] = std::move(opener);
  else
    st.openers.erase(name);
  st.providers[name] = std::move(handle);
}

}  // namespace

router_actor::behavior_type router_behavior(router_pointer self, router_config config) {
  self->state.config = std::move(config);
  return {
      [self](route_atom, const std::string& model) {
        route_plan plan;
        auto& st = self->state;
        ++st.plans;
        auto it = st.config.routes.find(model);
        if (it == st.config.routes.end()) {
          ++st.empty_plans;
          return plan;
        }
        auto& route = it->second;
        std::vector<std::size_t> eligible;
        for (std::size_t i = 0; i < route.targets.size(); ++i) {
          auto& name = route.targets[i].provider;
          auto p = st.providers.find(name);
          if (p == st.providers.end()) continue;
          if (!p->second) {
            plan.restarting = plan.restarting || st.down.count(name) == 0;
            continue;
          }
          auto a = st.admits.find(name);
          if (a != st.admits.end() && a->second == 0) continue;  // breaker open
          eligible.push_back(i);
        }
        for (auto i : order_candidates(route, eligible, st.wrr_current[model], st.config.gauges)) {
          auto& name = route.targets[i].provider;
          auto a = st.admits.find(name);
          if (a != st.admits.end() && a->second != route_unlimited) {
            if (a->second == 0) continue;
            --a->second;  // a half-open breaker's probe
          }
          plan.candidates.push_back(candidate_of(st, name));
        }
        if (plan.candidates.empty()) ++st.empty_plans;
        return plan;
      },
      // Reads only: asking for fresh handles must not spend a half-open breaker's probe or
      // move the weighted round-robin on, as a second route_atom would.
      [self](lookup_atom, const std::string& model) {
        route_plan plan;
        auto& st = self->state;
        auto it = st.config.routes.find(model);
        if (it == st.config.routes.end()) return plan;
        for (auto& t : it->second.targets) {
          auto p = st.providers.find(t.provider);
          if (p != st.providers.end() && p->second)
            plan.candidates.push_back(candidate_of(st, t.provider));
        }
        return plan;
      },
      [self](provider_atom, std::string& name, provider_actor& handle) {
        set_provider(self->state, std::move(name), std::move(handle), nullptr);
      },
      [self](provider_atom, std::string& name, provider_actor& handle,
             upstream_opener_ptr& opener) {
        set_provider(self->state, std::move(name), std::move(handle), std::move(opener));
      },
      [self](provider_atom, std::string& name) {
        self->state.providers[name] = nullptr;
        self->state.openers.erase(name);
        self->state.down.insert(std::move(name));
      },
      [self](pool_atom, std::string& name, quota_pool_actor& pool) {
        self->state.config.pools[name] = std::move(pool);
      },
      [self](health_atom, std::string& name, std::uint32_t admits) {
        if (admits == route_unlimited)
          self->state.admits.erase(name);
        else
          self->state.admits[name] = admits;
      },
  };
}

}  // namespace streamgate
