#include "actors/route_table.hpp"

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

route_table::route_table(router_config config) : config_(std::move(config)) {}

route_candidate route_table::candidate_of(const std::string& name) const {
  auto pool = config_.pools.find(name);
  auto opener = openers_.find(name);
  auto provider = providers_.find(name);
  return {name, provider == providers_.end() ? provider_actor{} : provider->second,
          pool == config_.pools.end() ? quota_pool_actor{} : pool->second,
          opener == openers_.end() ? nullptr : opener->second};
}

route_plan route_table::plan(const std::string& model) {
  route_plan plan;
  std::lock_guard<std::mutex> lock{mu_};
  ++plans_;
  auto it = config_.routes.find(model);
  if (it == config_.routes.end()) return plan;
  auto& route = it->second;
  std::vector<std::size_t> eligible;
  for (std::size_t i = 0; i < route.targets.size(); ++i) {
    auto& name = route.targets[i].provider;
    auto p = providers_.find(name);
    if (p == providers_.end()) continue;
    if (!p->second) {
      plan.restarting = plan.restarting || down_.count(name) == 0;
      continue;
    }
    auto a = admits_.find(name);
    if (a != admits_.end() && a->second == 0) continue;  // breaker open
    eligible.push_back(i);
  }
  for (auto i : order_candidates(route, eligible, wrr_current_[model], config_.gauges)) {
    auto& name = route.targets[i].provider;
    auto a = admits_.find(name);
    if (a != admits_.end() && a->second != route_unlimited) {
      if (a->second == 0) continue;
      --a->second;  // a half-open breaker's probe
    }
    plan.candidates.push_back(candidate_of(name));
  }
  return plan;
}

route_plan route_table::lookup(const std::string& model) const {
  route_plan plan;
  std::lock_guard<std::mutex> lock{mu_};
  auto it = config_.routes.find(model);
  if (it == config_.routes.end()) return plan;
  for (auto& t : it->second.targets) {
    auto p = providers_.find(t.provider);
    if (p != providers_.end() && p->second) plan.candidates.push_back(candidate_of(t.provider));
  }
  return plan;
}

void route_table::set_provider(const std::string& name, provider_actor handle,
                               upstream_opener_ptr opener) {
  std::lock_guard<std::mutex> lock{mu_};
  if (handle) down_.erase(name);
  if (handle && opener)
    openers_[name] = std::move(opener);
  else
    openers_.erase(name);
  providers_[name] = std::move(handle);
}

void route_table::set_down(const std::string& name) {
  std::lock_guard<std::mutex> lock{mu_};
  providers_[name] = nullptr;
  openers_.erase(name);
  down_.insert(name);
}

void route_table::set_pool(const std::string& provider, quota_pool_actor pool) {
  std::lock_guard<std::mutex> lock{mu_};
  config_.pools[provider] = std::move(pool);
}

void route_table::set_admits(const std::string& name, std::uint32_t admits) {
  std::lock_guard<std::mutex> lock{mu_};
  if (admits == route_unlimited)
    admits_.erase(name);
  else
    admits_[name] = admits;
}

route_table::view_type route_table::view() const {
  std::lock_guard<std::mutex> lock{mu_};
  return {config_, providers_, admits_, plans_};
}

}  // namespace streamgate
