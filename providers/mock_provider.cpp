#include "providers/mock_provider.hpp"

#include "providers/stream_group.hpp"

#include "actors/event_log.hpp"
#include "providers/upstream_count.hpp"

#include <caf/all.hpp>

#include <array>
#include <chrono>
#include <string_view>

namespace streamgate {
namespace {

using mock_stream_actor = caf::typed_actor<caf::reacts_to<cancel_atom>, caf::reacts_to<tick_atom>>;

constexpr std::array<std::string_view, 24> words{
    "Streaming", "shows",  "every",  "token", "as",     "soon", "as",     "the",
    "model",     "writes", "it,",    "so",    "nobody", "ever", "thinks", "the",
    "answer",    "is",     "stuck;", "stop",  "it",     "at",   "once.",  "Then"};

struct mock_stream_state {
  static inline const char* name = "mock_stream";
  upstream_target target;
  std::uint32_t tokens = 0;
  std::uint32_t interval_ms = 0;
  std::uint32_t prompt_tokens = 0;
  std::uint32_t sent = 0;
  std::string fail;
  upstream_count count;
};

void schedule_tick(mock_stream_actor::stateful_pointer<mock_stream_state> self,
                   std::uint32_t delay_ms) {
  if (delay_ms == 0)
    self->send(self, tick_atom::value);
  else
    self->delayed_send(self, std::chrono::milliseconds{delay_ms}, tick_atom::value);
}

mock_stream_actor::behavior_type mock_stream(
    mock_stream_actor::stateful_pointer<mock_stream_state> self, upstream_target target,
    chat_request req, mock_config cfg, std::atomic<std::int64_t>* upstreams) {
  auto& st = self->state;
  st.target = std::move(target);
  st.tokens = req.mock.tokens.value_or(cfg.tokens);
  st.interval_ms = req.mock.interval_ms.value_or(cfg.interval_ms);
  st.prompt_tokens = req.prompt_tokens;
  st.fail = cfg.fail;
  st.count = upstream_count{upstreams};
  self->attach_functor([count = st.count] { count.release(); });
  // A generator never outlives its session, whatever ends the session.
  self->monitor(st.target.session);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  schedule_tick(self, req.mock.first_token_ms.value_or(cfg.first_token_ms));
  return {
      [self](cancel_atom) { self->quit(); },
      [self](tick_atom) {
        auto& st = self->state;
        auto send = [&](stream_event ev) {
          auto& t = st.target;
          if (!ev.terminal()) {
            t.log->append_from_upstream(t.attempt, std::move(ev));
            return;
          }
          st.count.release();
          self->send(t.session, upstream_atom::value, t.attempt, std::move(ev));
        };
        if (!st.fail.empty()) {
          send(stream_event::make_error(st.fail, "the mock provider is configured to fail"));
          self->quit();
          return;
        }
        if (st.sent < st.tokens) {
          send(stream_event::make_delta(mock_token(st.sent++)));
          if (st.sent < st.tokens) {
            schedule_tick(self, st.interval_ms);
            return;
          }
        }
        send(stream_event::make_choice_end(0, "stop"));
        send(stream_event::make_usage({st.prompt_tokens, st.tokens}));
        send(stream_event::make_finish("stop"));
        self->quit();
      },
  };
}

}  // namespace

std::string mock_token(std::uint32_t i) {
  std::string t{words[i % words.size()]};
  t += ' ';
  return t;
}

std::string mock_text(std::uint32_t n) {
  std::string out;
  for (std::uint32_t i = 0; i < n; ++i) out += mock_token(i);
  return out;
}

provider_actor::behavior_type mock_provider(provider_actor::pointer self, mock_config config,
                                            std::atomic<std::int64_t>* upstreams) {
  auto opened = std::make_shared<std::uint32_t>(0);
  // When the provider crashes, its streams end and sessions apply the failover rule (retry
  // before the first token, upstream_interrupted after).
  auto streams = stream_group::of(self);
  return {
      [self, config, upstreams, opened, streams](open_atom, chat_request& req,
                                                 upstream_target& target) -> upstream_actor {
        auto cfg = config;
        if (cfg.fail_first > 0 && (*opened)++ >= cfg.fail_first) cfg.fail.clear();  // recovered
        auto s = self->spawn(mock_stream, std::move(target), std::move(req), cfg, upstreams);
        streams->join(caf::actor_cast<caf::strong_actor_ptr>(s));
        return s;
      },
  };
}

}  // namespace streamgate
