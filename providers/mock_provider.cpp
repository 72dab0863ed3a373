#include "providers/mock_provider.hpp"

#include "providers/stream_group.hpp"

#include "actors/event_log.hpp"
#include "providers/answer_request.hpp"
#include "providers/answer_script.hpp"
#include "providers/upstream_count.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>

namespace streamgate {
namespace {

// Its own timer beside the upstream interface: the next piece is due.
using mock_stream_actor = upstream_actor::extend<caf::reacts_to<tick_atom>>;

struct mock_stream_state {
  static inline const char* name = "mock_stream";
  upstream_target target;
  std::uint32_t tokens = 0;
  std::uint32_t interval_ms = 0;
  std::uint32_t prompt_tokens = 0;
  std::uint32_t sent = 0;
  std::string fail;
  upstream_count count;
  // Set when the answer is more than plain text of one choice (reasoning, tool calls, n > 1,
  // a tool's result); plain text keeps the fast path of one make_delta per tick.
  std::optional<answer_script> script;
};

// The request's answer shape, or nothing when it is plain text.
std::optional<answer_script> script_for(const chat_request& req, std::uint32_t tokens) {
  answer_options o;
  apply_request(req.body, o);
  o.choices = req.choices;
  o.content_tokens = tokens;
  if (req.mock.reasoning_tokens) o.reasoning_tokens = *req.mock.reasoning_tokens;
  if (req.mock.tool_calls) o.tool_calls = *req.mock.tool_calls;
  if (req.mock.tool_fragments) o.tool_fragments = *req.mock.tool_fragments;
  if (o.choices == 1 && o.reasoning_tokens == 0 && o.tool_calls == 0 && o.content_lead.empty())
    return std::nullopt;
  o.content_token = [](std::uint32_t c, std::uint32_t i) { return mock_token(c + i); };
  return answer_script{std::move(o)};
}

// A piece of a shaped answer as the event a provider would have produced from it.
stream_event event_of(answer_piece& p) {
  if (p.kind == piece_kind::finish) return stream_event::make_choice_end(p.choice, p.text);
  if (p.kind == piece_kind::content) {
    auto e = stream_event::make_delta(std::move(p.text));
    e.choice = p.choice;
    return e;
  }
  auto e = stream_event::make_delta("");
  e.choice = p.choice;
  auto f = std::make_shared<delta_fields>();
  f->delta = delta_members(p);
  e.fields = std::move(f);
  return e;
}

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
  st.script = script_for(req, st.tokens);
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
        if (st.script) {
          answer_piece p;
          if (st.script->next(p)) send(event_of(p));
          if (!st.script->done()) {
            schedule_tick(self, st.interval_ms);
            return;
          }
          auto tokens = st.script->completion_tokens();
          send(stream_event::make_usage(
              {st.prompt_tokens, static_cast<std::uint32_t>(std::min<std::uint64_t>(
                                     tokens, std::numeric_limits<std::uint32_t>::max()))}));
          send(stream_event::make_finish(st.script->finish_reason()));
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
  return answer_token(i);
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
