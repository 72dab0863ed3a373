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
  // The upstream may hold the log a moment longer; the clients leave the gauge now.
  if (log) log->drop_sinks();
}

namespace {

using seconds_d = std::chrono::duration<double>;

// The outcome label of a terminal event in logs and metrics: ok, cancelled, or the error code.
std::string outcome_of(const stream_event& ev) {
  if (ev.kind == event_kind::finish) return "ok";
  if (ev.kind == event_kind::cancelled) return "cancelled";
  return ev.code;
}

session_phase phase_after(event_kind kind) {
  switch (kind) {
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
  auto kind = ev.kind;
  auto a = st_.log->append(std::move(ev));
  if (!a.logged) return;
  if (a.first_delta) on_first_delta();
  if (is_terminal(kind)) {
    st_.phase = phase_after(kind);
    on_ended();
  } else if (a.sinks_lost) {
    on_sinks_lost();
  }
}

void session_ops::on_first_delta() {
  if (st_.phase == session_phase::queued) st_.phase = session_phase::streaming;
}

void session_ops::on_lane_first_delta(std::uint32_t attempt) {
  if (attempt != st_.attempt || st_.ended()) return;
  report_outcome(true);
  on_first_delta();
}

void session_ops::on_sinks_lost() {
  if (st_.ended() || st_.log->has_sinks()) return;
  if (st_.cancel_on_detach)
    cancel("client too slow");
  else
    arm_expiry();
}

bool session_ops::before_first_token() const {
  return st_.phase == session_phase::queued && !st_.log->has_deltas();
}

void session_ops::attach(sink_ptr sink, std::uint64_t after_seq) {
  // A client is back: the resume window stops running.
  if (st_.log->attach(std::move(sink), after_seq)) ++st_.expire_generation;
}

void session_ops::detach(const sink_ptr& sink) {
  if (!st_.log->detach(sink)) return;
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
  st_.log->close_lane();  // the fence: nothing of this attempt gets into the log any more
  end_attempt(outcome);
  if (st_.upstream) {
    self_->anon_send(st_.upstream, cancel_atom::value);
    st_.stopping_upstream = caf::actor_cast<caf::actor_addr>(st_.upstream);
    st_.stop_sent_at = self_->clock().now();
    st_.stopping_provider = st_.provider;
    st_.upstream = nullptr;
  }
  if (st_.transfer) {
    // The session's part ends when the cancel is handed to the driver, which closes the
    // socket on its thread (streamgate_upstream_cancel_latency_seconds times that part).
    auto asked = self_->clock().now();
    st_.transfer->cancel();
    st_.transfer.reset();
    stats::session()
        .cancel_latency.with({st_.provider})
        .observe(seconds_d(self_->clock().now() - asked).count());
  }
}

// Counts the current attempt's outcome once, however it ended.
void session_ops::end_attempt(std::string_view outcome) {
  if (!st_.attempt_open) return;
  st_.attempt_open = false;
  stats::upstream().attempts.with({st_.provider, outcome}).inc();
}

void session_ops::on_upstream_event(std::uint32_t attempt, stream_event ev) {
  // A stale attempt's late event, or one of an attempt the session has stopped or given up
  // (the same rule as the lane's fence, for events that come by mailbox).
  if (attempt != st_.attempt || !st_.attempt_open || st_.ended()) return;
  if (ev.kind == event_kind::error) {
    if (st_.upstream) self_->demonitor(caf::actor_cast<caf::actor_addr>(st_.upstream));
    attempt_failed(std::move(ev));
    return;
  }
  report_outcome(true);
  if (ev.terminal()) {
    if (st_.upstream) self_->demonitor(caf::actor_cast<caf::actor_addr>(st_.upstream));
    st_.upstream = nullptr;
    st_.transfer.reset();  // ended already: nothing to cancel
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
    if (st_.log->has_sinks()) return;
    cancel("resume window expired");
  }
  self_->quit();
}

void session_ops::on_evicted() {
  nlohmann::json fields{{"session", st_.id}, {"bytes", st_.log->held_bytes()}};
  if (st_.ended()) {
    // The budget at work: it only shortens the resume window.
    log::debug("log_evicted", std::move(fields));
  } else {
    log::warn("log_budget_exceeded", std::move(fields));
    fail(error_code::log_budget_exceeded,
         "the server's memory for stream logs is used up, and this stream's log was the "
         "largest");
  }
  self_->quit();
}

void session_ops::on_ended() {
  release_lease();
  leave_queue();
  write_access_log();
  auto& ss = stats::session();
  ss.requests.with({st_.transport, st_.request.model, outcome_of(*st_.log->last())}).inc();
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
  auto& log = *st_.log;
  auto& last = *log.last();
  auto tokens = log.tokens();
  nlohmann::json fields{{"session", st_.id},
                        {"transport", st_.transport},
                        {"model", st_.request.model},
                        {"provider", st_.provider},
                        {"attempts", st_.attempt},
                        {"outcome", outcome_of(last)},
                        {"duration_ms", ms(now - st_.started_at).count()},
                        {"tokens", tokens},
                        {"bytes", log.bytes()}};
  if (tokens > 0) fields["ttft_ms"] = ms(log.first_token_at() - st_.started_at).count();
  log::info("access", std::move(fields));
}

session_impl::behavior_type session_behavior(session_pointer self, session_init init) {
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
  event_log::options lo;
  lo.started_at = st.started_at;
  // The system's clock, not the actor: the log may outlive the session in its upstream's
  // hands, and the upstream's thread should not touch the actor's memory per delta.
  lo.now = [&clock = self->clock()] { return clock.now(); };
  // Weak: the log may outlive the session (in its upstream's hands) and must not keep it.
  caf::weak_actor_ptr weak{self->ctrl()};
  auto tell = [weak](auto... xs) {
    if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(weak))
      caf::anon_send(caf::actor_cast<session_actor>(strong), xs...);
  };
  lo.first_delta = [tell](std::uint32_t attempt) { tell(first_delta_atom::value, attempt); };
  lo.sinks_lost = [tell] { tell(sinks_lost_atom::value); };
  lo.budget = std::move(init.budget);
  lo.evicted = [tell] { tell(evict_atom::value); };
  lo.ttft = &ss.ttft.with({st.transport, st.request.model});
  lo.gap = &ss.chunk_gap.with({st.transport, st.request.model});
  lo.bytes = &ss.bytes.with({st.transport, st.request.model});
  lo.first_sink = std::move(init.first_sink);
  lo.observer = std::move(init.observer);
  bool attached = lo.first_sink != nullptr;
  st.log = std::make_shared<event_log>(std::move(lo));
  if (!attached) session_ops{self}.arm_expiry();  // nobody attached yet: the window runs
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
    session_ops ops{self};
    ops.attempt_failed(stream_event::make_error(
        std::string{ops.before_first_token() ? error_code::upstream_error
                                             : error_code::upstream_interrupted},
        "the upstream stream stopped unexpectedly"));
  });

  self->delayed_send(self, st.options.attempt_deadline, deadline_atom::value);
  session_ops{self}.route();

  return {
      [self](upstream_atom, std::uint32_t attempt, stream_event& ev) {
        session_ops{self}.on_upstream_event(attempt, std::move(ev));
      },
      [self](first_delta_atom, std::uint32_t attempt) {
        session_ops{self}.on_lane_first_delta(attempt);
      },
      [self](sinks_lost_atom) { session_ops{self}.on_sinks_lost(); },
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
      [self](evict_atom) { session_ops{self}.on_evicted(); },
      [self](pool_atom, quota_pool_actor& old, quota_pool_actor& fresh) {
        session_ops{self}.on_pool_restarted(old, fresh);
      },
      [self](route_atom) { session_ops{self}.route(); },
  };
}

}  // namespace streamgate
