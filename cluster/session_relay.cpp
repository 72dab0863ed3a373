#include "cluster/session_relay.hpp"

#include <caf/all.hpp>

namespace streamgate {
namespace {

// The relay's work is over: it leaves the gateway's table, so a later detach finds nothing.
void finish(session_relay_pointer self) {
  auto& st = self->state;
  st.table->take(st.session_id, st.sink.get());
  self->quit();
}

}  // namespace

session_relay_impl::behavior_type session_relay(session_relay_pointer self, std::string session_id,
                                                sink_ptr sink, std::shared_ptr<relay_table> table) {
  auto& st = self->state;
  st.session_id = std::move(session_id);
  st.sink = std::move(sink);
  st.table = std::move(table);
  // The session's node died: to this client the session is gone.
  self->set_down_handler([self](caf::down_msg&) {
    self->state.sink->detached(detach_reason::session_expired);
    finish(self);
  });
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
            if (st.owner)
              self->send(st.owner, detach_atom::value, st.session_id, relay_actor{self});
            st.sink->replay_paused(st.last_seq);
            return finish(self);
          }
        } else if (!st.sink->deliver(ev)) {
          // The client's sink is full: it drops its client itself (event_sink::deliver).
          if (st.owner) self->send(st.owner, detach_atom::value, st.session_id, relay_actor{self});
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
      [self](owner_atom, cluster_node_actor& owner) {
        self->state.owner = owner;
        self->monitor(owner);
      },
      [self](detach_atom) {
        auto& st = self->state;
        if (st.owner) self->send(st.owner, detach_atom::value, st.session_id, relay_actor{self});
        self->quit();  // the gateway took it out of the table already
      },
  };
}

}  // namespace streamgate
