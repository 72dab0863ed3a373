#include "providers/upstream_stream.hpp"

#include "actors/error_code.hpp"
#include "actors/upstream_opener.hpp"

#include <caf/all.hpp>

namespace streamgate {

namespace {

// The terminal event comes back into this actor; the session only sees upstream_actor.
using upstream_stream_actor = upstream_actor::extend<caf::reacts_to<upstream_atom, stream_event>>;

struct upstream_stream_state {
  static inline const char* name = "upstream_stream";
  session_actor session;
  std::uint32_t attempt = 0;
  std::unique_ptr<upstream_transfer> transfer;  // dropped with the state: cancels the transfer
};

upstream_stream_actor::behavior_type upstream_stream(
    upstream_stream_actor::stateful_pointer<upstream_stream_state> self,
    std::shared_ptr<upstream_opener> opener, chat_request request, upstream_target target) {
  auto& st = self->state;
  st.session = std::move(target.session);
  st.attempt = target.attempt;
  auto me = caf::actor_cast<upstream_stream_actor>(self);
  st.transfer = opener->open(request, {st.attempt, std::move(target.log), [me](stream_event ev) {
                                         caf::anon_send(me, upstream_atom::value, std::move(ev));
                                       }});
  if (!st.transfer) {  // its provider is going down
    self->send(st.session, upstream_atom::value, st.attempt,
               stream_event::make_error(std::string{error_code::upstream_error},
                                        "the provider is stopping"));
    self->quit();
    return {[](cancel_atom) {}, [](upstream_atom, stream_event&) {}};
  }
  self->monitor(st.session);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  return {
      [self](cancel_atom) { self->quit(); },
      [self](upstream_atom, stream_event& ev) {  // the terminal event
        auto& st = self->state;
        self->send(st.session, upstream_atom::value, st.attempt, std::move(ev));
        self->quit();
      },
  };
}

}  // namespace

upstream_actor spawn_upstream_stream(provider_actor::pointer provider,
                                     std::shared_ptr<upstream_opener> opener,
                                     const chat_request& request, upstream_target target) {
  return provider->spawn(upstream_stream, std::move(opener), request, std::move(target));
}

}  // namespace streamgate
