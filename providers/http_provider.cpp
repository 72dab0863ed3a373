#include "providers/http_provider.hpp"

#include "providers/http/curl_driver.hpp"
#include "providers/upstream_count.hpp"
#include "telemetry/log.hpp"

#include <caf/all.hpp>

#include <chrono>

namespace streamgate {
namespace {

// The driver thread reports into this actor; the session only sees upstream_actor.
using upstream_stream_actor =
    caf::typed_actor<caf::reacts_to<cancel_atom>, caf::reacts_to<upstream_atom, stream_event>>;

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
    upstream_stream_actor::stateful_pointer<upstream_stream_state> self, session_actor session,
    std::uint32_t attempt, std::string provider, upstream_request request,
    std::shared_ptr<transfer_runner> driver, std::atomic<std::int64_t>* upstreams) {
  auto& st = self->state;
  st.session = std::move(session);
  st.attempt = attempt;
  st.provider = std::move(provider);
  st.count = upstream_count{upstreams};
  self->attach_functor([count = st.count] { count.release(); });
  auto me = caf::actor_cast<upstream_stream_actor>(self);
  auto id = driver->start(std::move(request), [me](stream_event ev) {
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
      [self](upstream_atom, stream_event& ev) {
        auto& st = self->state;
        bool terminal = ev.terminal();
        // The text was scrubbed of the key and is what the client sees anyway.
        if (ev.kind == event_kind::error)
          log::warn("upstream_failed", {{"provider", st.provider},
                                        {"attempt", st.attempt},
                                        {"code", ev.code},
                                        {"message", ev.text}});
        if (terminal) st.count.release();
        self->send(st.session, upstream_atom::value, st.attempt, std::move(ev));
        if (terminal) {
          *st.ended = true;
          self->quit();
        }
      },
  };
}

std::int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

provider_actor::behavior_type http_provider(provider_actor::pointer self,
                                            http_provider_config config,
                                            std::shared_ptr<transfer_runner> driver,
                                            std::atomic<std::int64_t>* upstreams) {
  return {
      [self, config, driver, upstreams](open_atom, const chat_request& req, session_actor& session,
                                        std::uint32_t attempt) -> upstream_actor {
        // Linked, like the mock: a provider crash ends its streams, and sessions fail over.
        return self->spawn<caf::linked>(upstream_stream, std::move(session), attempt, config.name,
                                        build_request(config, req, wall_clock_ms()), driver,
                                        upstreams);
      },
  };
}

}  // namespace streamgate
