#include "supervision/engine.hpp"

#include "actors/quota_pool.hpp"
#include "actors/router.hpp"
#include "actors/session_registry.hpp"
#include "cluster/pool_proxy.hpp"
#include "providers/http/curl_driver.hpp"
#include "providers/http/curl_driver_pool.hpp"
#include "providers/http_provider.hpp"
#include "providers/http_upstream.hpp"
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

// Providers the router may route to now, for /readyz.
void publish_vitals(engine_state& st) {
  std::uint32_t routable = 0;
  for (auto& [name, p] : st.providers) {
    if (p.handle && !p.down && p.breaker.state() != breaker_state::open) ++routable;
  }
  st.links.vitals->routable.store(routable, std::memory_order_relaxed);
}

// `moved`: the state changed (rather than fresh probes being handed out in half-open).
void breaker_changed(engine_pointer self, const std::string& name, supervised_provider& p,
                     bool moved = true) {
  auto& b = p.breaker;
  // The route table first: once the gauge shows the new state, a request routed after that is
  // routed by it.
  self->state.routes->set_admits(name, admits_of(b));
  if (moved) stats::provider().breaker_transitions.with({name, to_string(b.state())}).inc();
  stats::provider().breaker_state.with({name}).set(breaker_level(b.state()));
  log::warn(
      "breaker",
      {{"provider", name}, {"state", to_string(b.state())}, {"transitions", b.transitions()}});
  // Open: look again after the cooldown. Half-open: the probes the router handed out may
  // never have been tried (a better candidate served them), so offer fresh ones each cooldown.
  if (b.state() != breaker_state::closed)
    self->delayed_send(self, b.options().cooldown, breaker_atom::value, name);
  publish_vitals(self->state);
}

// The provider's current handle (null while restarting), with its opener if it has one.
void publish_route(engine_state& st, const std::string& name, const supervised_provider& p) {
  if (p.down)
    st.routes->set_down(name);
  else
    st.routes->set_provider(name, p.handle, p.opener);
}

// Spawns the provider's actor linked to the engine: the engine traps its exit to restart it,
// and the provider goes down with the engine.
void start_provider(engine_pointer self, supervised_provider& p) {
  auto& st = self->state;
  auto* upstreams = &st.links.registry->upstreams;
  if (p.entry.kind == "mock") {
    p.handle = self->spawn<caf::linked>(mock_provider, p.entry.mock, upstreams);
  } else {
    if (!st.driver)
      st.driver = st.config.upstream_loops.empty()
                      ? std::make_shared<curl_driver_pool>(st.config.upstream_threads)
                      : std::make_shared<curl_driver_pool>(st.config.upstream_loops);
    auto http = p.entry.http;
    http.name = p.entry.name;  // one name in routes, logs and the admin view
    auto upstream = std::make_shared<http_upstream>(std::move(http), st.driver, upstreams);
    p.opener = upstream;
    p.handle = self->spawn<caf::linked>(http_provider, std::move(upstream));
  }
  // At start the route table comes after the providers, and start_router fills it.
  if (st.routes) publish_route(st, p.entry.name, p);
  publish_vitals(st);
}

// The routes, written by the engine as things change and read by sessions (route_table.hpp).
// Made once, from what the engine knows of every provider: it outlives the router actor's
// restarts, so a restarted router routes by the same table.
void start_router(engine_pointer self) {
  auto& st = self->state;
  if (!st.routes) {
    st.routes = std::make_shared<route_table>(router_config_of(st));
    for (auto& [name, p] : st.providers) {
      publish_route(st, name, p);
      if (p.breaker.state() != breaker_state::closed)
        st.routes->set_admits(name, admits_of(p.breaker));
    }
  }
  st.router = self->spawn<caf::linked>(router_behavior, st.routes);
  st.links.router->set(st.router, st.routes);
}

bool owned_here(const engine_state& st, const std::string& pool) {
  auto& c = st.config.cluster;
  return !c.enabled || c.owner_of(pool) == c.node_id;
}

// Cluster mode, a pool another node owns: its local face (cluster/pool_proxy.hpp).
void start_proxy(engine_pointer self, const std::string& name, engine_pool& pool) {
  auto& st = self->state;
  auto& c = st.config.cluster;
  pool_proxy_options opts;
  opts.name = name;
  opts.limits = st.config.pools[name];
  opts.share = opts.limits;
  opts.share.rpm = c.share_of(opts.limits.rpm);
  opts.share.max_concurrent = c.share_of(opts.limits.max_concurrent);
  opts.request_timeout = c.request_timeout;
  opts.reserve_hold = st.config.restarts.reclaim_window;
  pool.proxy = self->spawn<caf::linked>(pool_proxy, opts, st.links.node, pool.gauges);
  pool.handle = pool.proxy;
  self->send(st.links.node, proxy_atom::value, name, pool.proxy);
}

// A pool this node owns. In cluster mode it first grants nothing for rejoin_hold, while the
// nodes that served on their own report what they hold, and the node hands it out.
void start_pool(engine_pointer self, const std::string& name, engine_pool& pool) {
  auto& st = self->state;
  if (!owned_here(st, name)) return start_proxy(self, name, pool);
  auto owned = self->spawn<caf::linked>(quota_pool, name, st.config.pools[name], pool.gauges);
  pool.handle = owned;
  if (!st.links.node) return;
  auto hold = static_cast<std::uint32_t>(st.config.cluster.rejoin_hold.count());
  if (hold > 0) self->send(owned, pause_atom::value, hold);
  self->send(st.links.node, own_atom::value, name, quota_pool_control{owned});
}

// A restarted pool starts from what its predecessor last published (quota_carry), so the
// leases still held and the grants of the last minute keep counting; the router and every
// live session learn its new handle, and sessions that hold a lease of the old pool reclaim it.
// A restarted proxy starts empty: its sessions reclaim their leases through it, and the owner
// released the dead proxy's leases when it saw it die.
void restart_pool(engine_pointer self, const std::string& name, engine_pool& pool) {
  auto& st = self->state;
  auto& g = *pool.gauges;
  quota_carry carry;
  carry.leases = static_cast<std::uint32_t>(std::max<std::int64_t>(0, g.leases_in_use.load()));
  carry.grants = static_cast<std::uint32_t>(std::max<std::int64_t>(0, g.rpm_used.load()));
  carry.hold = st.config.restarts.reclaim_window;
  carry.incarnation = pool.record.restarts;
  auto old = pool.handle;
  if (pool.proxy) {
    start_proxy(self, name, pool);
  } else {
    auto owned = self->spawn<caf::linked>(restarted_quota_pool, name, g.limits, pool.gauges, carry);
    pool.handle = owned;
    if (st.links.node) self->send(st.links.node, own_atom::value, name, quota_pool_control{owned});
  }
  for (auto& [provider, p] : st.providers) {
    if (p.entry.pool == name) st.routes->set_pool(provider, pool.handle);
  }
  for (auto& s : st.links.registry->all()) self->send(s, pool_atom::value, old, pool.handle);
  log::info("quota_pool_restarted", {{"pool", name},
                                     {"restarts", pool.record.restarts},
                                     {"carried_leases", carry.leases},
                                     {"carried_grants", carry.grants}});
}

// Records a crash against the actor's restart budget: the wait before its restart, or
// nothing when the budget is spent.
std::optional<std::chrono::milliseconds> note_crash(engine_pointer self, restart_record& r,
                                                    const caf::exit_msg& em) {
  r.last_exit = self->system().render(em.reason);
  return next_restart_delay(self->state.config.restarts, r.recent_crashes, self->clock().now());
}

// The engine cannot serve without its router or a pool: it stops, and its owner (the
// process, or an embedding application) learns it from the engine's exit.
void give_up(engine_pointer self, const std::string& actor, const restart_record& r) {
  log::error("engine_down", {{"actor", actor}, {"reason", r.last_exit}, {"restarts", r.restarts}});
  self->quit(caf::make_error(caf::sec::runtime_error, actor + " crashed too often"));
}

void on_provider_exit(engine_pointer self, const std::string& name, supervised_provider& p,
                      const caf::exit_msg& em) {
  auto& st = self->state;
  p.handle = nullptr;
  p.opener = nullptr;
  auto delay = note_crash(self, p.record, em);
  stats::provider().crashes.with({name}).inc();
  // Sessions stop routing here at once; queued work waits in the quota pools.
  st.routes->set_provider(name, provider_actor{}, nullptr);
  publish_vitals(st);
  if (!delay) {
    p.down = true;
    st.routes->set_down(name);
    log::error(
        "provider_down",
        {{"provider", name}, {"reason", p.record.last_exit}, {"restarts", p.record.restarts}});
    return;
  }
  log::warn(
      "provider_crashed",
      {{"provider", name}, {"reason", p.record.last_exit}, {"restart_in_ms", delay->count()}});
  self->delayed_send(self, *delay, restart_atom::value, name);
}

void on_linked_exit(engine_pointer self, const caf::exit_msg& em) {
  auto& st = self->state;
  auto is = [&](const auto& handle) {
    return handle && em.source == caf::actor_cast<caf::actor_addr>(handle);
  };
  for (auto& [name, p] : st.providers) {
    if (is(p.handle)) return on_provider_exit(self, name, p, em);
  }
  if (is(st.router)) {
    stats::supervision().crashes.with({"router"}).inc();
    // Restarted at once, not after the delay: it holds no connection a backoff would spare.
    if (!note_crash(self, st.router_record, em)) return give_up(self, "router", st.router_record);
    ++st.router_record.restarts;
    log::warn("router_crashed", {{"reason", st.router_record.last_exit}});
    start_router(self);
    stats::supervision().restarts.with({"router"}).inc();
    return;
  }
  for (auto& [name, pool] : st.pools) {
    if (!is(pool.handle)) continue;
    auto actor = "pool:" + name;
    stats::supervision().crashes.with({actor}).inc();
    if (!note_crash(self, pool.record, em)) return give_up(self, actor, pool.record);
    ++pool.record.restarts;
    log::warn("quota_pool_crashed", {{"pool", name}, {"reason", pool.record.last_exit}});
    restart_pool(self, name, pool);
    stats::supervision().restarts.with({actor}).inc();
    return;
  }
  // Not one of ours (whoever else linked to the engine): its failure is the engine's.
  if (em.reason) self->quit(em.reason);
}

// The running actor an admin crash request names; null if there is none.
caf::actor_addr crash_target_of(engine_state& st, crash_target what, const std::string& name) {
  auto addr = [](const auto& handle) { return caf::actor_cast<caf::actor_addr>(handle); };
  switch (what) {
    case crash_target::router:
      return addr(st.router);
    case crash_target::pool: {
      auto it = st.pools.find(name);
      return it == st.pools.end() ? caf::actor_addr{} : addr(it->second.handle);
    }
    case crash_target::provider: {
      auto it = st.providers.find(name);
      return it == st.providers.end() ? caf::actor_addr{} : addr(it->second.handle);
    }
  }
  return {};
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
                        {"restarts", p.record.restarts},
                        {"last_exit", p.record.last_exit},
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
                                           engine_links links) {
  auto& st = self->state;
  st.config = std::move(config);
  st.links = std::move(links);
  for (auto& [name, limits] : st.config.pools) {
    auto& pool = st.pools[name];
    pool.gauges = std::make_shared<quota_gauges>();
    start_pool(self, name, pool);
  }
  for (auto& entry : st.config.providers) {
    auto& p = st.providers[entry.name];
    p.entry = entry;
    p.breaker = circuit_breaker{st.config.breaker};
    stats::provider().breaker_state.with({entry.name}).set(breaker_level(p.breaker.state()));
    start_provider(self, p);
  }
  start_router(self);
  self->set_exit_handler([self](caf::exit_msg& em) { on_linked_exit(self, em); });
  return {
      [self](status_atom) { return status_json(self->state); },
      [self](crash_atom, crash_target what, const std::string& name) {
        auto target = crash_target_of(self->state, what, name);
        if (!target) return false;
        log::warn("crash_requested", {{"actor", what == crash_target::router ? "router" : name}});
        // Not exit_reason::kill: CAF never lets a supervisor trap that one.
        caf::anon_send_exit(target, caf::exit_reason::unhandled_exception);
        return true;
      },
      [self](restart_atom, const std::string& name) {
        auto it = self->state.providers.find(name);
        if (it == self->state.providers.end() || it->second.handle) return;
        ++it->second.record.restarts;
        start_provider(self, it->second);
        stats::provider().restarts.with({name}).inc();
        log::info("provider_restarted",
                  {{"provider", name}, {"restarts", it->second.record.restarts}});
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
