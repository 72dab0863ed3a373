#include "actors/session.hpp"

#include "actors/session_ops.hpp"

#include "actors/error_code.hpp"
#include "actors/session_registry.hpp"
#include "telemetry/log.hpp"
#include "telemetry/stats.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace streamgate {

const char* to_string(session_phase p) {
  switch (p) {
    case session_phase::queued:
      return "queued";
    case session_phase::streaming:
      return "streaming";
    case session_phase::finished:
      return "finished";
    case session_phase::cancelled:
      return "cancelled";
    case session_phase::failed:
      return "failed";
  }
  return "?";
}

session_state::~session_state() {
  for (auto& s : sinks) stats::session().clients.with({s->transport()}).dec();
}

namespace {

using seconds_d = std::chrono::duration<double>;

void count_client(const sink_ptr& s, int delta) {
  stats::session().clients.with({s->transport()}).inc(delta);
}

// The outcome label of a terminal event in logs and metrics: ok, cancelled, or the error code.
std::string outcome_of(const stream_event& ev) {
  if (ev.kind == event_kind::finish) return "ok";
  if (ev.kind == event_kind::cancelled) return "cancelled";
  return ev.code;
}

session_phase phase_after(const stream_event& ev) {
  switch (ev.kind) {
    case event_kind::finish:
      return session_phase::finished;
    case event_kind::cancelled:
      return session_phase::cancelled;
    case event_kind::error:
      return session_phase::failed;
    default:
      return session_phase::streaming;
  }
}

}  // namespace

// Logs the event, hands it to every sink, and moves the state machine.
void session_ops::emit(stream_event ev) {
  if (st_.ended()) return;  // exactly one terminal event: later ones are dropped
  ev.seq = st_.log.size() + 1;
  auto ptr = std::make_shared<const stream_event>(std::move(ev));
  st_.log.push_back(ptr);
  if (ptr->kind == event_kind::delta) {
    auto now = self_->clock().now();
    if (st_.tokens++ == 0) {
      st_.first_token_at = now;
      st_.ttft_stat->observe(seconds_d(now - st_.started_at).count());
    } else {
      st_.gap_stat->observe(seconds_d(now - st_.last_delta_at).count());
    }
    st_.last_delta_at = now;
    st_.bytes += ptr->text.size();
    st_.bytes_stat->inc(ptr->text.size());
  }
  if (ptr->kind == event_kind::delta || ptr->terminal()) st_.phase = phase_after(*ptr);
  deliver_to_all(ptr);
  if (ptr->terminal()) on_ended();
}

void session_ops::attach(sink_ptr sink, std::uint64_t after_seq) {
  for (auto i = std::min<std::uint64_t>(after_seq, st_.log.size()); i < st_.log.size(); ++i) {
    if (!sink->deliver(st_.log[i])) {
      sink->detached(detach_reason::slow_consumer);
      return;
    }
  }
  sink->attached(st_.log.size(), st_.ended());
  if (st_.ended()) return;  // the replay held the terminal event; nothing live follows
  count_client(sink, 1);
  st_.sinks.push_back(std::move(sink));
  ++st_.expire_generation;  // a client is back: the resume window stops running
}

void session_ops::detach(const sink_ptr& sink) {
  auto& s = st_.sinks;
  // Count before removing: std::remove leaves the tail moved-from (null), not the removed sinks.
  auto n = std::count(s.begin(), s.end(), sink);
  if (n > 0) count_client(sink, -static_cast<int>(n));
  s.erase(std::remove(s.begin(), s.end(), sink), s.end());
  if (!s.empty() || st_.ended()) return;
  if (st_.cancel_on_detach) {
    cancel("client disconnected");
    return;
  }
  arm_expiry();
}

// Ends the stream on the client's or the window's behalf and stops the upstream.
void session_ops::cancel(std::string_view why) {
  if (st_.ended()) return;
  stop_upstream("cancelled");
  stream_event ev;
  ev.kind = event_kind::cancelled;
  ev.text = std::string{why};
  emit(std::move(ev));
}

void session_ops::fail(std::string_view code, std::string message) {
  stop_upstream(code);
  emit(stream_event::make_error(std::string{code}, std::move(message)));
}

// Tells the upstream to stop. It stays monitored: its exit ends the cancel latency clock.
void session_ops::stop_upstream(std::string_view outcome) {
  end_attempt(outcome);
  if (st_.upstream) {
    self_->anon_send(st_.upstream, cancel_atom::value);
    st_.stopping_upstream = caf::actor_cast<caf::actor_addr>(st_.upstream);
    st_.stop_sent_at = self_->clock().now();
    st_.stopping_provider = st_.provider;
    st_.upstream = nullptr;
  }
}

// Counts the current attempt's outcome once, however it ended.
void session_ops::end_attempt(std::string_view outcome) {
  if (!st_.attempt_open) return;
  st_.attempt_open = false;
  stats::upstream().attempts.with({st_.provider, outcome}).inc();
}

void session_ops::on_upstream_event(std::uint32_t attempt, stream_event ev) {
  if (attempt != st_.attempt || st_.ended()) return;  // a stale attempt's late event
  if (ev.kind == event_kind::error) {
    if (st_.upstream) self_->demonitor(caf::actor_cast<caf::actor_addr>(st_.upstream));
    attempt_failed(std::move(ev));
    return;
  }
  report_outcome(true);
  if (ev.terminal()) {
    if (st_.upstream) self_->demonitor(caf::actor_cast<caf::actor_addr>(st_.upstream));
    st_.upstream = nullptr;
    end_attempt("ok");
  }
  emit(std::move(ev));
}

void session_ops::arm_expiry() {
  auto gen = ++st_.expire_generation;
  self_->delayed_send(self_, st_.options.resume_window, expire_atom::value, gen);
}

void session_ops::on_expiry(std::uint64_t gen) {
  if (gen != st_.expire_generation) return;
  if (!st_.ended()) {
    if (!st_.sinks.empty()) return;
    cancel("resume window expired");
  }
  self_->quit();
}

void session_ops::deliver_to_all(const event_ptr& ev) {
  auto& sinks = st_.sinks;
  bool dropped = false;
  for (auto it = sinks.begin(); it != sinks.end();) {
    if ((*it)->deliver(ev)) {
      ++it;
      continue;
    }
    (*it)->detached(detach_reason::slow_consumer);
    count_client(*it, -1);
    it = sinks.erase(it);
    dropped = true;
  }
  // Losing the last client to its own slowness is a detach like any other.
  if (dropped && sinks.empty() && !ev->terminal()) {
    if (st_.cancel_on_detach)
      cancel("client too slow");
    else
      arm_expiry();
  }
}

void session_ops::on_ended() {
  release_lease();
  for (auto& s : st_.sinks) count_client(s, -1);
  st_.sinks.clear();  // every sink has its terminal event and closes on its own
  write_access_log();
  auto& ss = stats::session();
  ss.requests.with({st_.transport, st_.request.model, outcome_of(*st_.log.back())}).inc();
  ss.duration.with({st_.transport, st_.request.model})
      .observe(seconds_d(self_->clock().now() - st_.started_at).count());
  if (st_.registry) st_.registry->active.fetch_sub(1, std::memory_order_relaxed);
  // The log stays readable for the resume window, then the session goes away.
  arm_expiry();
}

// One line per finished session: what operators grep for first.
void session_ops::write_access_log() {
  if (!log::enabled(log::level::info)) return;
  using ms = std::chrono::duration<double, std::milli>;
  auto now = self_->clock().now();
  auto& last = *st_.log.back();
  nlohmann::json fields{{"session", st_.id},
                        {"transport", st_.transport},
                        {"model", st_.request.model},
                        {"provider", st_.provider},
                        {"attempts", st_.attempt},
                        {"outcome", outcome_of(last)},
                        {"duration_ms", ms(now - st_.started_at).count()},
                        {"tokens", st_.tokens},
                        {"bytes", st_.bytes}};
  if (st_.tokens > 0) fields["ttft_ms"] = ms(st_.first_token_at - st_.started_at).count();
  log::info("access", std::move(fields));
}

session_actor::behavior_type session_behavior(session_pointer self, session_init init) {
  auto& st = self->state;
  st.id = std::move(init.id);
  st.request = std::move(init.request);
  st.options = init.options;
  st.cancel_on_detach = init.cancel_on_detach;
  st.router = std::move(init.router);
  st.health = std::move(init.health);
  st.registry = init.registry;
  st.transport = std::move(init.transport);
  st.started_at = self->clock().now();
  auto& ss = stats::session();
  st.ttft_stat = &ss.ttft.with({st.transport, st.request.model});
  st.gap_stat = &ss.chunk_gap.with({st.transport, st.request.model});
  st.bytes_stat = &ss.bytes.with({st.transport, st.request.model});
  if (init.first_sink) {
    count_client(init.first_sink, 1);
    st.sinks.push_back(std::move(init.first_sink));
  } else {
    session_ops{self}.arm_expiry();  // nobody attached yet: the resume window runs
  }
  if (st.registry) {
    // `active` was counted up by registry.add, before this actor first ran.
    self->attach_functor([reg = st.registry, id = st.id] { reg->remove(id); });
  }
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source == st.stopping_upstream) {
      stats::session()
          .cancel_latency.with({st.stopping_provider})
          .observe(seconds_d(self->clock().now() - st.stop_sent_at).count());
      st.stopping_upstream = nullptr;
      return;
    }
    if (!st.upstream || dm.source != caf::actor_cast<caf::actor_addr>(st.upstream)) return;
    st.upstream = nullptr;
    session_ops{self}.attempt_failed(stream_event::make_error(
        std::string{st.phase == session_phase::queued ? error_code::upstream_error
                                                      : error_code::upstream_interrupted},
        "the upstream stream stopped unexpectedly"));
  });

  self->delayed_send(self, st.options.attempt_deadline, deadline_atom::value);
  session_ops{self}.route();

  return {
      [self](upstream_atom, std::uint32_t attempt, stream_event& ev) {
        session_ops{self}.on_upstream_event(attempt, std::move(ev));
      },
      [self](attach_atom, sink_ptr& sink, std::uint64_t after_seq) {
        session_ops{self}.attach(std::move(sink), after_seq);
      },
      [self](detach_atom, sink_ptr& sink) { session_ops{self}.detach(sink); },
      [self](cancel_atom) { session_ops{self}.cancel("cancelled by client"); },
      [self](shutdown_atom) {
        session_ops{self}.fail(error_code::server_shutting_down, "the server is shutting down");
      },
      [self](expire_atom, std::uint64_t gen) { session_ops{self}.on_expiry(gen); },
      [self](deadline_atom) { session_ops{self}.on_deadline(); },
      [self](route_atom) { session_ops{self}.route(); },
  };
}

}  // namespace streamgate
