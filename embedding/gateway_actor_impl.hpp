#pragma once

#include "embedding/receiver_sink.hpp"

#include <streamgate/gateway_actor.hpp>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace streamgate {

class gateway;
class http_server;

// What spawn_gateway built before spawning the actor, which owns it from then on.
struct gateway_parts {
  std::shared_ptr<gateway> engine;
  std::shared_ptr<http_server> server;  // serve_http only
  std::shared_ptr<http_server> admin;   // serve_http, unless admin_listen is "off"
  // Runs once both are gone (spawn_gateway lets the next gateway start).
  std::function<void()> on_destroyed;
};

using drain_atom = caf::atom_constant<caf::atom("sg_drain")>;
using engine_down_atom = caf::atom_constant<caf::atom("sg_edown")>;

// The public interface plus the timer the actor sends itself while it drains, and the news
// that the engine stopped on its own (why).
using gateway_actor_impl = gateway_actor::extend<caf::reacts_to<drain_atom>,
                                                 caf::reacts_to<engine_down_atom, std::string>>;

struct gateway_actor_state {
  static inline const char* name = "streamgate.gateway";
  std::shared_ptr<gateway> engine;
  std::shared_ptr<http_server> server;
  std::shared_ptr<http_server> admin;
  // The application's receivers, monitored: one that dies is detached from its sessions,
  // which go on and keep their resume window.
  std::map<caf::actor_addr, std::vector<std::shared_ptr<receiver_sink>>> receivers;
  std::size_t tracked = 0;    // sinks in `receivers`
  std::size_t prune_at = 64;  // forget finished sinks when `tracked` reaches this
  bool draining = false;
  caf::error failure;  // what the actor exits with once drained: none after a shutdown
  std::chrono::steady_clock::time_point drain_started;
  std::function<void()> on_destroyed;

  gateway_actor_state();
  ~gateway_actor_state();
};

using gateway_actor_pointer = gateway_actor_impl::stateful_pointer<gateway_actor_state>;

// Runs on a thread of its own (spawned detached): its shutdown waits for the actor tree and
// joins the I/O threads, which must not hold one of the scheduler's workers.
gateway_actor_impl::behavior_type gateway_actor_behavior(gateway_actor_pointer self,
                                                         gateway_parts parts);

}  // namespace streamgate
