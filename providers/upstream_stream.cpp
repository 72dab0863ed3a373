#include "providers/upstream_stream.hpp"

#include "actors/event_log.hpp"
#include "providers/http/curl_driver.hpp"
#include "providers/upstream_count.hpp"
#include "telemetry/log.hpp"

#include <caf/all.hpp>

namespace streamgate {

namespace {

// The driver thread reports into this actor; the session only sees upstream_actor.
using upstream_stream_actor = upstream_actor::extend<caf::reacts_to<upstream_atom, stream_event>>;

struct upstream_stream_state {
  static inline const char* name = "upstream_stream";
  session_actor session;
  std::uint32_t attempt = 0;
  std::string provider;
  // Shared with the cleanup functor: once the terminal event went out, there is no transfer
  // left to cancel, and cancelling would only spoil a connection curl is about to reuse.
  std::shared_ptr<bool> ended = std::make_shared<bool>(false);
  upstream_count count;
};

upstream_stream_actor::behavior_type upstream_stream(
    upstream_stream_actor::stateful_pointer<upstream_stream_state> self, upstream_target target,
    std::string provider, upstream_request request, std::shared_ptr<transfer_runner> driver,
    std::atomic<std::int64_t>* upstreams) {
  auto& st = self->state;
  st.session = std::move(target.session);
  st.attempt = target.attempt;
  st.provider = std::move(provider);
  st.count = upstream_count{upstreams};
  self->attach_functor([count = st.count] { count.release(); });
  auto me = caf::actor_cast<upstream_stream_actor>(self);
  // Deltas go from the driver thread straight into the session's log (the lane: no thread
  // hop per chunk); the terminal event through this actor, which ends the transfer's life.
  auto id = driver->start(std::move(request),
                          [me, log = std::move(target.log), attempt = st.attempt](stream_event ev) {
                            if (!ev.terminal())
                              log->append_from_upstream(attempt, std::move(ev));
                            else
                              caf::anon_send(me, upstream_atom::value, std::move(ev));
                          });
  // Whatever ends this actor (cancel, its session's death, its provider's crash), the
  // transfer goes with it and the upstream socket is closed.
  self->attach_functor([driver, id, ended = st.ended] {
    if (!*ended) driver->cancel(id);
  });
  self->monitor(st.session);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  return {
      [self](cancel_atom) { self->quit(); },
      [self](upstream_atom, stream_event& ev) {  // the terminal event
        auto& st = self->state;
        // The text was scrubbed of the key and is what the client sees anyway.
        if (ev.kind == event_kind::error)
          log::warn("upstream_failed", {{"provider", st.provider},
                                        {"attempt", st.attempt},
                                        {"code", ev.code},
                                        {"message", ev.text}});
        st.count.release();
        *st.ended = true;
        self->send(st.session, upstream_atom::value, st.attempt, std::move(ev));
        self->quit();
      },
  };
}

}  // namespace

upstream_actor spawn_upstream_stream(provider_actor::pointer provider, upstream_target target,
                                     std::string provider_name, upstream_request request,
                                     std::shared_ptr<transfer_runner> driver,
                                     std::atomic<std::int64_t>* upstreams) {
  return provider->spawn(upstream_stream, std::move(target), std::move(provider_name),
                         std::move(request), std::move(driver), upstreams);
}

}  // namespace streamgate
