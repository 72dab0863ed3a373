#include "embedding/gateway_actor_impl.hpp"

#include "actors/session_registry.hpp"
#include "supervision/gateway.hpp"
#include "transports/server/http_server.hpp"

#include <caf/typed_response_promise.hpp>

#include <algorithm>
#include <chrono>

namespace streamgate {

namespace {

constexpr auto drain_poll = std::chrono::milliseconds(10);
// How long a drain waits for served clients to take their last bytes once every stream ended.
constexpr auto drain_clients = std::chrono::seconds(2);

void prune(gateway_actor_pointer self, bool now = false);

// Refuses new sessions, ends running streams with server_shutting_down, and quits once
// they have ended (drain_atom).
void begin_drain(gateway_actor_pointer self) {
  auto& st = self->state;
  if (st.draining) return;
  st.draining = true;
  st.drain_started = std::chrono::steady_clock::now();
  if (st.server) st.server->stop_accepting();
  st.engine->shutdown();
  self->send(self, drain_atom::value);
}

gateway_status status_of(gateway_actor_pointer self) {
  prune(self, true);
  auto& st = self->state;
  auto c = st.engine->counts();
  gateway_status s;
  s.active_sessions = c.active_sessions;
  s.live_sessions = c.live_sessions;
  s.active_upstreams = c.active_upstreams;
  s.receivers = st.receivers.size();
  s.http_port = st.server ? st.server->port() : 0;
  s.admin_port = st.admin ? st.admin->port() : 0;
  s.shutting_down = st.draining;
  for (auto& m : st.engine->models()) s.models.push_back(m.id);
  return s;
}

// Forgets sinks whose sessions deliver nothing more, and stops monitoring receivers left
// with none. Amortised: runs when the count has doubled since the last pass, or `now`.
void prune(gateway_actor_pointer self, bool now) {
  auto& st = self->state;
  if (!now && st.tracked < st.prune_at) return;
  st.tracked = 0;
  for (auto it = st.receivers.begin(); it != st.receivers.end();) {
    auto& sinks = it->second;
    sinks.erase(std::remove_if(sinks.begin(), sinks.end(), [](auto& s) { return s->done(); }),
                sinks.end());
    st.tracked += sinks.size();
    if (sinks.empty()) {
      self->demonitor(it->first);
      it = st.receivers.erase(it);
    } else {
      ++it;
    }
  }
  st.prune_at = std::max<std::size_t>(64, 2 * st.tracked);
}

std::shared_ptr<receiver_sink> track(gateway_actor_pointer self, const std::string& id,
                                     const event_receiver_actor& receiver) {
  auto& st = self->state;
  prune(self);
  auto sink = std::make_shared<receiver_sink>(id, receiver);
  auto addr = receiver.address();
  auto& sinks = st.receivers[addr];
  if (sinks.empty()) self->monitor(receiver);
  sinks.push_back(sink);
  ++st.tracked;
  return sink;
}

// Starts a session with no sink, answers, then attaches: the reply is in the requester's
// mailbox before the first event can be in the receiver's.
template <class MakeSink>
caf::typed_response_promise<start_result> start(gateway_actor_pointer self, chat_request& req,
                                                MakeSink make_sink) {
  auto rp = self->make_response_promise<start_result>();
  auto out = self->state.engine->start(std::move(req), start_options{});
  rp.deliver(start_result{out.session_id, out.error_code, out.message});
  if (out.ok()) {
    auto sink = make_sink(out.session_id);
    if (!self->state.engine->attach(out.session_id, 0, sink))
      sink->detached(detach_reason::session_expired);
  }
  return rp;
}

std::shared_ptr<receiver_sink> find_sink(gateway_actor_pointer self, const std::string& id,
                                         const event_receiver_actor& receiver) {
  auto it = self->state.receivers.find(receiver.address());
  if (it == self->state.receivers.end()) return nullptr;
  for (auto& s : it->second)
    if (s->session_id() == id && !s->done()) return s;
  return nullptr;
}

}  // namespace

gateway_actor_state::gateway_actor_state() = default;

gateway_actor_state::~gateway_actor_state() {
  admin.reset();
  server.reset();  // closes every connection and joins the I/O threads
  engine.reset();  // waits for the sessions and upstream streams to end
  if (on_destroyed) on_destroyed();
}

gateway_actor_impl::behavior_type gateway_actor_behavior(gateway_actor_pointer self,
                                                         gateway_parts parts) {
  auto& st = self->state;
  st.engine = std::move(parts.engine);
  st.server = std::move(parts.server);
  st.admin = std::move(parts.admin);
  st.on_destroyed = std::move(parts.on_destroyed);
  // An engine that cannot recover takes the gateway actor down with an error, so that the
  // application's monitor or link hears it instead of talking to a gateway that cannot serve.
  // It drains like a shutdown (an exit message would tear the server down under its own
  // I/O threads' feet), then exits with the error.
  st.engine->on_engine_down([weak = caf::weak_actor_ptr{self->ctrl()}](const std::string& why) {
    if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(weak))
      caf::anon_send(caf::actor_cast<caf::actor>(strong), engine_down_atom::value, why);
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto it = self->state.receivers.find(msg.source);
    if (it == self->state.receivers.end()) return;
    for (auto& s : it->second)
      if (!s->done()) self->state.engine->detach(s->session_id(), s);
    self->state.tracked -= it->second.size();
    self->state.receivers.erase(it);
  });
  return {
      [self](start_atom, chat_request& req, event_receiver_actor& receiver) {
        return start(self, req, [&](const std::string& id) { return track(self, id, receiver); });
      },
      [self](start_atom, chat_request& req, sink_ptr& sink) {
        return start(self, req, [&](const std::string&) { return sink; });
      },
      [self](attach_atom, const std::string& id, std::uint64_t after,
             event_receiver_actor& receiver) {
        auto sink = track(self, id, receiver);
        if (self->state.engine->attach(id, after, sink)) return true;
        sink->retire();
        return false;
      },
      [self](attach_atom, const std::string& id, std::uint64_t after, sink_ptr& sink) {
        return self->state.engine->attach(id, after, sink);
      },
      [self](detach_atom, const std::string& id, const event_receiver_actor& receiver) {
        if (auto sink = find_sink(self, id, receiver)) {
          self->state.engine->detach(id, sink);
          sink->retire();
        }
      },
      [self](detach_atom, const std::string& id, const sink_ptr& sink) {
        self->state.engine->detach(id, sink);
      },
      [self](cancel_atom, const std::string& id) { return self->state.engine->cancel(id); },
      [self](status_atom) { return status_of(self); },
      [self](shutdown_atom) { begin_drain(self); },
      [self](engine_down_atom, const std::string& why) {
        self->state.failure =
            caf::make_error(caf::sec::runtime_error, "the streamgate engine stopped: " + why);
        begin_drain(self);
      },
      [self](drain_atom) {
        auto& st = self->state;
        bool streams_ended = st.engine->counts().active_sessions == 0;
        bool clients_done = !st.server || st.server->streaming_connections() == 0 ||
                            std::chrono::steady_clock::now() - st.drain_started > drain_clients;
        if (streams_ended && clients_done) {
          self->quit(st.failure);
          return;
        }
        self->delayed_send(self, drain_poll, drain_atom::value);
      },
  };
}

}  // namespace streamgate
