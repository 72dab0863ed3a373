#include "cluster/session_relay.hpp"

#include "cluster/cluster_options.hpp"
#include "telemetry/log.hpp"

#include <caf/all.hpp>

namespace streamgate {
namespace {

// The relay's work is over: it leaves the gateway's table, so a later detach finds nothing.
void finish(session_relay_pointer self) {
  auto& st = self->state;
  st.table->take(st.session_id, st.sink.get());
  self->quit();
}

// Tells the session's node that this client is gone (if it accepted the attach yet; if not,
// it sees the relay's exit, which it monitors once it has).
void leave(session_relay_pointer self) {
  auto& st = self->state;
  if (st.peer) self->send(st.peer, detach_atom::value, st.session_id, relay_actor{self});
}

// To the client, a session its node does not know, or a node that is gone, is one that
// expired: its transport answers session_not_found.
void refuse(session_relay_pointer self) {
  self->state.sink->detached(detach_reason::session_expired);
  finish(self);
}

// Asks this node for the session's node, and that node to serve this relay.
void ask(session_relay_pointer self, cluster_node_impl node, relay_request r) {
  self->request(node, r.timeout, peer_atom::value, session_node(r.session_id))
      .then(
          [self, r](cluster_node_actor& peer) {
            self->request(peer, r.timeout, attach_atom::value, r.session_id, r.after_seq, r.owner,
                          relay_actor{self})
                .then(
                    [self, peer](bool ok) {
                      if (!ok) {
                        log::info("cluster_attach_refused", {{"session", self->state.session_id}});
                        return refuse(self);
                      }
                      self->state.peer = peer;
                      self->monitor(peer);
                    },
                    [self](caf::error& e) {
                      log::warn("cluster_attach_failed", {{"session", self->state.session_id},
                                                          {"error", self->system().render(e)}});
                      refuse(self);
                    });
          },
          [self](caf::error&) { refuse(self); });
}

}  // namespace

session_relay_impl::behavior_type session_relay(session_relay_pointer self, relay_request request,
                                                sink_ptr sink, cluster_node_impl node,
                                                std::shared_ptr<relay_table> table) {
  auto& st = self->state;
  st.session_id = request.session_id;
  st.sink = std::move(sink);
  st.table = std::move(table);
  // The session's node died: to this client the session is gone.
  self->set_down_handler([self](caf::down_msg&) { refuse(self); });
  ask(self, std::move(node), std::move(request));
  return {
      [self](event_atom, wire_event& w) {
        auto ev = from_wire(w);
        if (!ev) return;
        auto& st = self->state;
        if (!st.attached) {
          // The replay, before attached(): offered as a local replay offers it. A sink that
          // is full for now pauses, and its transport attaches again after what it took
          // (event_sink::replay_paused): a long log is paged as on the session's own node.
          if (!st.sink->offer(ev)) {
            leave(self);
            st.sink->replay_paused(st.last_seq);
            return finish(self);
          }
        } else if (!st.sink->deliver(ev)) {
          // The client's sink is full: it drops its client itself (event_sink::deliver).
          leave(self);
          return finish(self);
        }
        st.last_seq = ev->seq;
        if (ev->terminal()) {
          st.ended = true;
          if (st.attached) finish(self);
        }
      },
      [self](attached_atom, std::uint64_t last, bool ended) {
        auto& st = self->state;
        st.sink->attached(last, ended);
        st.attached = true;
        if (st.ended) finish(self);
      },
      [self](paused_atom, std::uint64_t last) {
        self->state.sink->replay_paused(last);
        finish(self);
      },
      [self](detached_atom, std::uint8_t reason) {
        auto why = reason <= static_cast<std::uint8_t>(detach_reason::cursor_ahead)
                       ? static_cast<detach_reason>(reason)
                       : detach_reason::session_expired;
        self->state.sink->detached(why);
        finish(self);
      },
      [self](detach_atom) {
        leave(self);
        self->quit();  // the gateway took it out of the table already
      },
  };
}

void relay_table::add(const std::string& id, const event_sink* sink, session_relay_impl relay) {
  std::lock_guard<std::mutex> guard{mu_};
  relays_[{id, sink}] = std::move(relay);
}

session_relay_impl relay_table::take(const std::string& id, const event_sink* sink) {
  std::lock_guard<std::mutex> guard{mu_};
  auto it = relays_.find({id, sink});
  if (it == relays_.end()) return {};
  auto relay = std::move(it->second);
  relays_.erase(it);
  return relay;
}

}  // namespace streamgate
