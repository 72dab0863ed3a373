#include "supervision/engine.hpp"

#include "actors/quota_pool.hpp"
#include "actors/router.hpp"
#include "actors/session_registry.hpp"
#include "providers/http/curl_driver.hpp"
#include "providers/http/curl_driver_pool.hpp"
#include "providers/http_provider.hpp"
#include "providers/mock_provider.hpp"
#include "telemetry/log.hpp"
#include "telemetry/stats.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

namespace streamgate {
namespace {

router_config router_config_of(const engine_state& st) {
  router_config rc;
  rc.routes = st.config.routes;
  for (auto& p : st.config.providers) {
    for (auto& m : p.models) {
      if (st.config.routes.count(m) == 0) rc.routes[m].targets.push_back({p.name, 1});
    }
    auto pool = st.pools.find(p.pool);
    if (pool == st.pools.end()) continue;
    rc.pools[p.name] = pool->second.handle;
    rc.gauges[p.name] = pool->second.gauges;
  }
  return rc;
}

// How many more plans the router may give the provider, as its breaker allows.
std::uint32_t admits_of(const circuit_breaker& b) {
  switch (b.state()) {
    case breaker_state::closed:
      return route_unlimited;
    case breaker_state::open:
      return 0;
    case breaker_state::half_open:
      return b.options().half_open_probes;
  }
  return 0;
}

// The breaker's state as a number for the streamgate_breaker_state gauge.
std::int64_t breaker_level(breaker_state s) {
  return s == breaker_state::closed ? 0 : s == breaker_state::half_open ? 1 : 2;
}

// `moved`: the state changed (rather than fresh probes being handed out in half-open).
void breaker_changed(engine_pointer self, const std::string& name, supervised_provider& p,
                     bool moved = true) {
  auto& b = p.breaker;
  // The router first: once the gauge shows the new state, a request routed after that is
  // routed by it (the router's mailbox has the news ahead of that request).
  self->send(self->state.router, health_atom::value, name, admits_of(b));
  if (moved) stats::provider().breaker_transitions.with({name, to_string(b.state())}).inc();
  stats::provider().breaker_state.with({name}).set(breaker_level(b.state()));
  log::warn(
      "breaker",
      {{"provider", name}, {"state", to_string(b.state())}, {"transitions", b.transitions()}});
  // Open: look again after the cooldown. Half-open: the probes the router handed out may
  // never have been tried (a better candidate served them), so offer fresh ones each cooldown.
  if (b.state() != breaker_state::closed)
    self->delayed_send(self, b.options().cooldown, breaker_atom::value, name);
}

// Spawns the provider's actor linked to the engine: the engine traps its exit to restart it,
// and the provider goes down with the engine.
void start_provider(engine_pointer self, supervised_provider& p) {
  auto& st = self->state;
  auto* upstreams = &st.registry->upstreams;
  if (p.entry.kind == "mock") {
    p.handle = self->spawn<caf::linked>(mock_provider, p.entry.mock, upstreams);
  } else {
    if (!st.driver)
      st.driver = st.config.upstream_io
                      ? std::shared_ptr<transfer_runner>(
                            std::make_shared<curl_driver>(st.config.upstream_io))
                      : std::make_shared<curl_driver_pool>(st.config.upstream_threads);
    auto http = p.entry.http;
    http.name = p.entry.name;  // one name in routes, logs and the admin view
    p.handle = self->spawn<caf::linked>(http_provider, std::move(http), st.driver, upstreams);
  }
  self->send(st.router, provider_atom::value, p.entry.name, p.handle);
}

void on_linked_exit(engine_pointer self, const caf::exit_msg& em) {
  auto& st = self->state;
  for (auto& [name, p] : st.providers) {
    if (!p.handle || em.source != caf::actor_cast<caf::actor_addr>(p.handle)) continue;
    p.handle = nullptr;
    p.last_exit = self->system().render(em.reason);
    stats::provider().crashes.with({name}).inc();
    // Sessions stop routing here at once; queued work waits in the quota pools.
    self->send(st.router, provider_atom::value, name, provider_actor{});
    auto delay = next_restart_delay(st.config.restarts, p.recent_crashes, self->clock().now());
    if (!delay) {
      p.down = true;
      self->send(st.router, provider_atom::value, name);
      log::error("provider_down",
                 {{"provider", name}, {"reason", p.last_exit}, {"restarts", p.restarts}});
      return;
    }
    log::warn("provider_crashed",
              {{"provider", name}, {"reason", p.last_exit}, {"restart_in_ms", delay->count()}});
    self->delayed_send(self, *delay, restart_atom::value, name);
    return;
  }
  // Not a provider: the router (or whoever linked to us) failed; the engine cannot go on.
  if (em.reason) self->quit(em.reason);
}

nlohmann::json pool_json(const std::string& name, const quota_gauges& g) {
  return {{"name", name},
          {"rpm_limit", g.limits.rpm},
          {"max_concurrent", g.limits.max_concurrent},
          {"leases_in_use", g.leases_in_use.load()},
          {"queue_length", g.queue_length.load()},
          {"rpm_used", g.rpm_used.load()},
          {"paused_ms", g.paused_ms.load()},
          {"granted_total", g.granted_total.load()},
          {"refused_total", g.refused_total.load()},
          {"expired_total", g.expired_total.load()},
          {"reclaimed_total", g.reclaimed_total.load()}};
}

std::string status_json(engine_state& st) {
  nlohmann::json out = nlohmann::json::array();
  for (auto& [name, p] : st.providers) {
    nlohmann::json item{{"name", name},
                        {"kind", p.entry.kind},
                        {"models", p.entry.models},
                        {"state", p.down ? "down" : (p.handle ? "up" : "restarting")},
                        {"restarts", p.restarts},
                        {"last_exit", p.last_exit},
                        {"breaker",
                         {{"state", to_string(p.breaker.state())},
                          {"consecutive_failures", p.breaker.consecutive_failures()},
                          {"transitions", p.breaker.transitions()}}},
                        {"attempts", {{"succeeded", p.successes}, {"failed", p.failures}}}};
    auto pool = st.pools.find(p.entry.pool);
    item["pool"] =
        pool == st.pools.end() ? nlohmann::json{} : pool_json(pool->first, *pool->second.gauges);
    out.push_back(std::move(item));
  }
  return out.dump();
}

}  // namespace

std::optional<std::chrono::milliseconds> next_restart_delay(
    const restart_options& opts, std::deque<caf::actor_clock::time_point>& recent,
    caf::actor_clock::time_point now) {
  // Crashes older than the window are forgiven: a provider that stayed up that long is
  // healthy again and starts from the initial backoff.
  while (!recent.empty() && now - recent.front() > opts.window) recent.pop_front();
  if (recent.size() >= opts.max_restarts) return std::nullopt;
  recent.push_back(now);
  auto delay = opts.backoff_initial;
  for (std::size_t i = 1; i < recent.size() && delay < opts.backoff_max; ++i) delay *= 2;
  return std::min(delay, opts.backoff_max);
}

engine_impl::behavior_type engine_behavior(engine_pointer self, gateway_config config,
                                           session_registry* registry) {
  auto& st = self->state;
  st.config = std::move(config);
  st.registry = registry;
  for (auto& [name, limits] : st.config.pools) {
    auto& pool = st.pools[name];
    pool.gauges = std::make_shared<quota_gauges>();
    pool.handle = self->spawn<caf::linked>(quota_pool, name, limits, pool.gauges);
  }
  st.router = self->spawn<caf::linked>(router_behavior, router_config_of(st));
  for (auto& entry : st.config.providers) {
    auto& p = st.providers[entry.name];
    p.entry = entry;
    p.breaker = circuit_breaker{st.config.breaker};
    stats::provider().breaker_state.with({entry.name}).set(breaker_level(p.breaker.state()));
    start_provider(self, p);
  }
  self->set_exit_handler([self](caf::exit_msg& em) { on_linked_exit(self, em); });
  return {
      [self](get_router_atom) { return self->state.router; },
      [self](status_atom) { return status_json(self->state); },
      [self](crash_atom, const std::string& name) {
        auto it = self->state.providers.find(name);
        if (it == self->state.providers.end() || !it->second.handle) return false;
        log::warn("provider_crash_requested", {{"provider", name}});
        // Not exit_reason::kill: CAF never lets a supervisor trap that one.
        caf::anon_send_exit(it->second.handle, caf::exit_reason::unhandled_exception);
        return true;
      },
      [self](restart_atom, const std::string& name) {
        auto it = self->state.providers.find(name);
        if (it == self->state.providers.end() || it->second.handle) return;
        ++it->second.restarts;
        start_provider(self, it->second);
        stats::provider().restarts.with({name}).inc();
        log::info("provider_restarted", {{"provider", name}, {"restarts", it->second.restarts}});
      },
      [self](outcome_atom, const std::string& name, bool ok) {
        auto it = self->state.providers.find(name);
        if (it == self->state.providers.end()) return;
        auto& p = it->second;
        ++(ok ? p.successes : p.failures);
        if (p.breaker.record(ok, self->clock().now())) breaker_changed(self, name, p);
      },
      [self](breaker_atom, const std::string& name) {
        auto it = self->state.providers.find(name);
        if (it == self->state.providers.end()) return;
        auto& p = it->second;
        if (p.breaker.poll(self->clock().now()))
          breaker_changed(self, name, p);
        else if (p.breaker.state() == breaker_state::half_open)
          breaker_changed(self, name, p, false);  // unused probes: hand out fresh ones
      },
  };
}

}  // namespace streamgate
