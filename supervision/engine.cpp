#include "supervision/engine.hpp"

#include "actors/router.hpp"
#include "actors/session_registry.hpp"
#include "providers/http/curl_driver.hpp"
#include "providers/http_provider.hpp"
#include "providers/mock_provider.hpp"
#include "telemetry/log.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

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

// Spawns the provider's actor linked to the engine: the engine traps its exit to restart it,
// and the provider goes down with the engine.
void start_provider(engine_pointer self, supervised_provider& p) {
  auto& st = self->state;
  auto* upstreams = &st.registry->upstreams;
  if (p.entry.kind == "mock") {
    p.handle = self->spawn<caf::linked>(mock_provider, p.entry.mock, upstreams);
  } else {
    if (!st.driver) st.driver = std::make_shared<curl_driver>();
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
    // Sessions stop routing here at once; queued work waits in the quota pools.
    self->send(st.router, provider_atom::value, name, provider_actor{});
    auto delay = next_restart_delay(st.config.restarts, p.recent_crashes, self->clock().now());
    if (!delay) {
      p.down = true;
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

std::string status_json(engine_state& st) {
  nlohmann::json out = nlohmann::json::array();
  for (auto& [name, p] : st.providers) {
    out.push_back({{"name", name},
                   {"kind", p.entry.kind},
                   {"models", p.entry.models},
                   {"state", p.down ? "down" : (p.handle ? "up" : "restarting")},
                   {"restarts", p.restarts},
                   {"last_exit", p.last_exit}});
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

engine_actor::behavior_type engine_behavior(engine_pointer self, gateway_config config,
                                            session_registry* registry) {
  auto& st = self->state;
  st.config = std::move(config);
  st.registry = registry;
  st.router = self->spawn<caf::linked>(router_behavior, routes_of(st.config));
  for (auto& entry : st.config.providers) {
    auto& p = st.providers[entry.name];
    p.entry = entry;
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
        log::info("provider_restarted", {{"provider", name}, {"restarts", it->second.restarts}});
      },
  };
}

}  // namespace streamgate
