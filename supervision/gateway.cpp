#include "supervision/gateway.hpp"

#include "actors/error_code.hpp"
#include "actors/log_budget.hpp"
#include "actors/router.hpp"
#include "actors/session_registry.hpp"
#include "cluster/cluster_sessions.hpp"
#include "cluster/cluster_setup.hpp"
#include "cluster/session_relay.hpp"
#include "supervision/engine.hpp"
#include "telemetry/log.hpp"
#include "telemetry/stats.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace streamgate {

namespace {

// Forwards attaches to sessions as requests, so that a session which ended between the
// registry lookup and the attach (its resume window ran out) is noticed: the sink then
// hears `session_expired` instead of waiting for events that will never come. Detaches go
// the same way, so a session always sees a sink's attach before its detach.
caf::behavior attacher(caf::event_based_actor* self) {
  return {
      [self](attach_atom, session_actor& s, sink_ptr& sink, std::uint64_t after) {
        self->request(s, caf::infinite, attach_atom::value, sink, after)
            .then([] {}, [sink](caf::error&) { sink->detached(detach_reason::session_expired); });
      },
      [self](detach_atom, session_actor& s, sink_ptr& sink) {
        self->send(s, detach_atom::value, std::move(sink));
      },
  };
}

using trim_atom = caf::atom_constant<caf::atom("sg_trim")>;

// Gives the heap's free pages back to the system once session logs have been freed. glibc
// keeps what a thread freed in that thread's arena, and trims an arena only from its top:
// after 200 sessions of 100k tokens had expired, 2.4 GB stayed resident with 0.4 MB in use
// (docs/operations.md, "Session log memory"). One pass a second after the budget reports a
// large release, so a burst of expiries is trimmed once, off the streams' threads' hot paths.
caf::behavior memory_trimmer(caf::event_based_actor* self) {
  auto armed = std::make_shared<bool>(false);
  return {
      [self, armed](trim_atom) {
        if (*armed) return;
        *armed = true;
        self->delayed_send(self, std::chrono::seconds(1), trim_atom::value, true);
      },
      [armed](trim_atom, bool) {
        *armed = false;
#if defined(__GLIBC__)
        auto start = std::chrono::steady_clock::now();
        bool returned = malloc_trim(0) != 0;
        std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
        log::debug("memory_trimmed", {{"returned", returned}, {"ms", took.count()}});
#endif
      },
  };
}

}  // namespace

struct gateway::impl {
  caf::actor_system& system;
  gateway_config config;
  session_registry registry;
  std::shared_ptr<log_budget> logs = std::make_shared<log_budget>(config.log_budget_bytes);
  engine_links links;
  engine_actor engine;
  caf::actor attacher;
  caf::actor trimmer;
  std::vector<model_info> models;
  std::atomic<bool> shutting_down{false};
  // Who hears that the engine stopped on its own. Shared with the engine's exit functor,
  // which may run after the gateway is gone.
  struct engine_watch {
    std::atomic<bool> stopping{false};  // the gateway stops the engine itself: not a failure
    std::mutex mutex;
    std::function<void(std::string)> on_down;
    std::optional<std::string> reason;
  };
  std::shared_ptr<engine_watch> watch = std::make_shared<engine_watch>();
  std::vector<std::uint64_t> gauges;  // scrape-time gauges reading `registry`
  std::uint16_t cluster_port = 0;
  // Cluster mode: this node's sessions as peers reach them, and this node's clients of
  // sessions on other nodes.
  std::shared_ptr<cluster_sessions> cluster = std::make_shared<cluster_sessions>();
  std::shared_ptr<relay_table> relays = std::make_shared<relay_table>();

  // Whether the id names another node's session (cluster mode only).
  bool remote(const std::string& id) const {
    if (!config.cluster.enabled) return false;
    auto node = session_node(id);
    return !node.empty() && node != config.cluster.node_id;
  }

  // Another node's session this client may reach: its key's (the id binds it), on a node
  // that is connected. Anything else is session_not_found, at once.
  bool reachable(const std::string& id, const std::string& owner) const {
    return session_bound_to(id, owner) && cluster->connected(session_node(id));
  }

  // A session of this node. With a tag (a peer's client), only if that key started it; a
  // local client's tag was checked by its own access layer.
  std::optional<session_actor> find(const std::string& id, const std::string& owner) const {
    return owner.empty() ? registry.find(id) : registry.find_owned(id, owner);
  }

  impl(caf::actor_system& sys, gateway_config cfg) : system(sys), config(std::move(cfg)) {
    std::set<std::string> seen;
    for (auto& p : config.providers) {
      for (auto& m : p.models) {
        if (seen.insert(m).second) models.push_back({m, p.name});
      }
    }
    stats::declare_all();
    auto& m = metrics::registry::global();
    gauges = {
        m.add_callback_gauge("streamgate_session_active", "Sessions whose stream is running",
                             [this] { return static_cast<double>(registry.active.load()); }),
        m.add_callback_gauge("streamgate_session_live",
                             "Sessions running or kept for resume (the max_sessions count)",
                             [this] { return static_cast<double>(registry.size()); }),
        m.add_callback_gauge("streamgate_session_log_bytes",
                             "Memory held by session logs, running and kept for resume (what "
                             "sessions.log_budget_bytes bounds)",
                             [logs = logs] { return static_cast<double>(logs->held()); }),
        m.add_callback_gauge("streamgate_upstream_active",
                             "Upstream requests in flight (HTTP transfers, mock generators)",
                             [this] { return static_cast<double>(registry.upstreams.load()); }),
    };
    links.registry = &registry;
    if (config.cluster.enabled) {
      auto node = start_cluster_node(system, config.cluster, config.pools, cluster);
      links.node = node.actor;
      cluster_port = node.port;
    }
    engine = system.spawn(engine_behavior, config, links);
    // The engine stops only when told to or when it cannot recover (engine.cpp, give_up).
    caf::actor_cast<caf::abstract_actor*>(engine)->attach_functor(
        [w = watch, vitals = links.vitals, &sys = system](const caf::error& reason) {
          vitals->up = false;
          if (w->stopping) return;
          auto why = sys.render(reason);
          std::function<void(std::string)> tell;
          {
            std::lock_guard<std::mutex> lock{w->mutex};
            w->reason = why;
            tell = w->on_down;
          }
          if (tell) tell(std::move(why));
        });
    attacher = system.spawn(streamgate::attacher);
    trimmer = system.spawn(memory_trimmer);
    // A quarter of the budget, between 1 and 64 MiB: trimming is worth it, and rare.
    constexpr std::uint64_t mib = 1 << 20;
    logs->on_released(std::clamp(config.log_budget_bytes / 4, mib, 64 * mib),
                      [t = trimmer] { caf::anon_send(t, trim_atom::value); });
    // Once, at start-up and never on an I/O thread: wait until the engine has spawned its
    // tree and published the router, so that the first session finds it.
    caf::scoped_actor self{system};
    self->request(engine, caf::infinite, status_atom::value)
        .receive([](std::string&) {},
                 [&](caf::error& err) {
                   throw std::runtime_error("engine did not start: " + system.render(err));
                 });
  }
};

gateway::gateway(caf::actor_system& system, gateway_config config)
    : impl_(std::make_unique<impl>(system, std::move(config))) {
  impl_->cluster->serve(this);
}

gateway::~gateway() {
  auto& d = *impl_;
  d.cluster->serve(nullptr);
  for (auto id : d.gauges) metrics::registry::global().remove_callback_gauge(id);
  d.watch->stopping = true;
  caf::anon_send_exit(d.engine, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(d.attacher, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(d.trimmer, caf::exit_reason::user_shutdown);
  if (d.links.node) caf::anon_send_exit(d.links.node, caf::exit_reason::user_shutdown);
  // Sessions and upstream streams point into the registry (their exit removes them and counts
  // down), so it must outlive them: wait until every session is down, then for the streams.
  caf::scoped_actor self{d.system};
  auto sessions = d.registry.all();
  for (auto& s : sessions) {
    self->monitor(s);
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    bool timed_out = false;
    self->receive([](caf::down_msg&) {},
                  caf::after(std::chrono::seconds(5)) >> [&] { timed_out = true; });
    if (timed_out) break;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((d.registry.size() > 0 || d.registry.upstreams.load() > 0) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

std::uint16_t gateway::cluster_port() const {
  return impl_->cluster_port;
}

std::vector<model_info> gateway::models() const {
  return impl_->models;
}

start_outcome gateway::start(chat_request req, start_options opts) {
  auto& d = *impl_;
  if (d.shutting_down.load())
    return {"", std::string{error_code::server_shutting_down}, "the server is shutting down"};
  bool known = false;
  for (auto& m : d.models) known = known || m.id == req.model;
  if (!known)
    return {"", std::string{error_code::model_not_found},
            "The model '" + excerpt(req.model) + "' does not exist"};

  session_init init;
  init.id = session_registry::new_id();
  // A cluster node's session ids name it: a client that resumes through another node is
  // served from here.
  if (d.config.cluster.enabled)
    init.id = bind_session_id(init.id, opts.owner, d.config.cluster.node_id);
  init.request = std::move(req);
  init.first_sink = std::move(opts.sink);
  init.observer = std::move(opts.observer);
  init.transport = opts.transport;
  init.cancel_on_detach = opts.cancel_on_detach;
  init.router = d.links.router;
  init.health = d.engine;
  init.registry = &d.registry;
  init.options = d.config.sessions;
  init.budget = d.logs;
  auto id = init.id;
  auto spawned = d.registry.add(
      id, d.config.max_sessions, [&] { return d.system.spawn(session_behavior, std::move(init)); },
      // Only peers' clients are checked against it (find): one node alone keeps no tags.
      d.config.cluster.enabled ? opts.owner : std::string{});
  if (!spawned) {
    stats::limits().rejected.with({"max_sessions"}).inc();
    log::warn("limit_refusal", {{"limit", "max_sessions"}, {"transport", opts.transport}});
    return {"", std::string{error_code::too_many_sessions},
            "the server has reached its session limit; retry shortly"};
  }
  return {id, "", ""};
}

bool gateway::attach(const std::string& session_id, std::uint64_t after_seq, sink_ptr sink) {
  return attach_as({}, session_id, after_seq, std::move(sink));
}

bool gateway::remote(const std::string& session_id) const {
  return impl_->remote(session_id);
}

bool gateway::attach_as(const std::string& owner, const std::string& session_id,
                        std::uint64_t after_seq, sink_ptr sink) {
  auto& d = *impl_;
  if (d.remote(session_id)) {
    // Served from the session's node through a relay; a node that is not connected has no
    // session to offer (session_not_found), and one that refuses detaches the sink.
    if (!d.reachable(session_id, owner)) return false;
    relay_request r{session_id, after_seq, owner, d.config.cluster.request_timeout};
    auto relay = d.system.spawn(session_relay, std::move(r), sink, d.links.node, d.relays);
    d.relays->add(session_id, sink.get(), relay);
    return true;
  }
  auto s = d.find(session_id, owner);
  if (!s) return false;
  caf::anon_send(d.attacher, attach_atom::value, *s, std::move(sink), after_seq);
  return true;
}

void gateway::detach(const std::string& session_id, const sink_ptr& sink) {
  auto& d = *impl_;
  if (d.remote(session_id)) {
    if (auto relay = d.relays->take(session_id, sink.get()))
      caf::anon_send(relay, detach_atom::value);
    return;
  }
  if (auto s = d.registry.find(session_id))
    caf::anon_send(d.attacher, detach_atom::value, *s, sink);
}

bool gateway::cancel(const std::string& session_id) {
  return cancel_as({}, session_id);
}

bool gateway::cancel_as(const std::string& owner, const std::string& session_id) {
  auto& d = *impl_;
  if (d.remote(session_id)) {
    // Answered at once (transports never wait on another node): accepted when the id is the
    // caller's key's and its node is connected; an attached client sees the cancelled event.
    if (!d.reachable(session_id, owner)) return false;
    caf::anon_send(d.links.node, remote_atom::value, cancel_atom::value, session_id, owner);
    return true;
  }
  auto s = d.find(session_id, owner);
  if (!s) return false;
  caf::anon_send(*s, cancel_atom::value);
  return true;
}

engine_counts gateway::counts() const {
  engine_counts c;
  c.active_sessions = static_cast<std::uint64_t>(impl_->registry.active.load());
  c.live_sessions = impl_->registry.size();
  c.active_upstreams = static_cast<std::uint64_t>(impl_->registry.upstreams.load());
  c.engine_up = impl_->links.vitals->up.load();
  c.routable_providers = impl_->links.vitals->routable.load();
  return c;
}

void gateway::on_engine_down(std::function<void(std::string)> tell) {
  auto& w = *impl_->watch;
  std::optional<std::string> already;
  {
    std::lock_guard<std::mutex> lock{w.mutex};
    w.on_down = tell;
    already = w.reason;
  }
  if (already) tell(*already);
}

namespace {

// Asks the engine from a short-lived actor so the caller (an I/O thread) never blocks.
template <class Result, class... Ts>
void ask_engine(caf::actor_system& sys, const engine_actor& engine, Result fallback,
                std::function<void(Result)> done, Ts... xs) {
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(engine, std::chrono::seconds(5), xs...)
        .then([=](Result& r) { done(std::move(r)); }, [=](caf::error&) { done(fallback); });
  });
}

}  // namespace

void gateway::provider_status(std::function<void(std::string)> done) {
  ask_engine<std::string>(impl_->system, impl_->engine, "[]", std::move(done), status_atom::value);
}

void gateway::crash(crash_target what, const std::string& name, std::function<void(bool)> done) {
  ask_engine<bool>(impl_->system, impl_->engine, false, std::move(done), crash_atom::value, what,
                   name);
}

void gateway::shutdown() {
  impl_->shutting_down = true;
  for (auto& s : impl_->registry.all()) caf::anon_send(s, shutdown_atom::value);
}

}  // namespace streamgate
