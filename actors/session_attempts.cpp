// How a session gets an upstream: a plan from the router, a lease from a quota pool (room
// now first, then the queue), attempts bounded by max_attempts and the deadline, outcomes
// reported to the circuit breakers.

#include "actors/error_code.hpp"
#include "actors/route_table.hpp"
#include "actors/session_ops.hpp"
#include "actors/session_registry.hpp"
#include "telemetry/log.hpp"
#include "telemetry/stats.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace streamgate {

void session_ops::route() {
  if (st_.ended()) return;
  if (auto table = st_.router->table()) {
    follow(table->plan(st_.request.model));
    return;
  }
  self_->request(st_.router->get(), st_.options.open_timeout, route_atom::value, st_.request.model)
      .then(
          [self = self_](route_plan& plan) {
            if (!self->state.ended()) session_ops{self}.follow(std::move(plan));
          },
          [self = self_](caf::error& err) {
            session_ops ops{self};
            if (self->state.ended()) return;
            // The router crashed with this request in its mailbox: its successor answers.
            if (err == caf::sec::request_receiver_down && ops.route_again_soon()) return;
            ops.fail(error_code::internal_error, "routing failed: " + self->system().render(err));
          });
}

void session_ops::follow(route_plan plan) {
  if (plan.candidates.empty() && plan.restarting && route_again_soon()) return;
  st_.plan = std::move(plan);
  st_.tried.assign(st_.plan.candidates.size(), false);
  st_.refused_for_ms.assign(st_.plan.candidates.size(), 0);
  try_next_candidate();
}

// Its providers, or the router itself, are being restarted: ask again shortly, within the
// deadline. False when the deadline has passed.
bool session_ops::route_again_soon() {
  if (remaining().count() <= 0) return false;
  self_->delayed_send(self_, std::min(remaining(), std::chrono::milliseconds(50)),
                      route_atom::value);
  return true;
}

// The next attempt: the first untried candidate whose pool has room now, else a wait in
// the queue of the pool that expects room soonest; bounded by max_attempts and the deadline.
void session_ops::try_next_candidate() {
  if (st_.ended()) return;
  if (st_.attempt >= st_.options.max_attempts || remaining().count() <= 0) {
    give_up();
    return;
  }
  seek_room(0);
}

void session_ops::seek_room(std::size_t pos) {
  auto& c = st_.plan.candidates;
  while (pos < c.size() && st_.tried[pos]) ++pos;
  if (pos >= c.size()) {
    wait_for_room();
    return;
  }
  if (!c[pos].pool) {
    open_candidate(pos, 0);
    return;
  }
  self_->request(c[pos].pool, st_.options.open_timeout, acquire_atom::value, std::uint32_t{0})
      .then(
          [self = self_, pos](quota_lease& lease) {
            session_ops ops{self};
            if (!ops.take_lease(pos, lease)) ops.seek_room(pos + 1);
          },
          [self = self_, pos](caf::error&) {
            session_ops ops{self};
            if (self->state.ended()) return;
            ops.note_refusal(pos, 1000);  // a pool that does not answer has no room
            ops.seek_room(pos + 1);
          });
}

// No candidate has room now: queue (FIFO) at the one whose pool frees up soonest.
void session_ops::wait_for_room() {
  std::size_t best = st_.plan.candidates.size();
  for (std::size_t i = 0; i < st_.plan.candidates.size(); ++i) {
    if (st_.tried[i] || !st_.plan.candidates[i].pool) continue;
    if (best == st_.plan.candidates.size() || st_.refused_for_ms[i] < st_.refused_for_ms[best])
      best = i;
  }
  auto wait = remaining();
  if (best == st_.plan.candidates.size() || wait.count() <= 0) {
    give_up();
    return;
  }
  auto wait_ms = static_cast<std::uint32_t>(wait.count());
  st_.waiting_pool = st_.plan.candidates[best].pool;
  auto generation = ++st_.wait_generation;
  self_->request(st_.waiting_pool, wait + st_.options.open_timeout, acquire_atom::value, wait_ms)
      .then(
          [self = self_, best, generation](quota_lease& lease) {
            auto& st = self->state;
            session_ops ops{self};
            // A wait at a pool that crashed since: the session waits at its successor now,
            // and a lease of the dead pool is only part of the successor's reserve.
            if (generation != st.wait_generation) return;
            st.waiting_pool = nullptr;
            if (!ops.take_lease(best, lease)) ops.give_up();
          },
          [self = self_, generation](caf::error&) {
            auto& st = self->state;
            if (generation != st.wait_generation) return;
            st.waiting_pool = nullptr;
            if (!st.ended()) session_ops{self}.give_up();
          });
}

// A pool's answer: a lease opens the candidate; a lease that arrives after the session ended
// goes straight back. False when the pool refused: the caller decides what comes next.
bool session_ops::take_lease(std::size_t pos, const quota_lease& lease) {
  if (st_.ended() || st_.lease_id != 0) {
    if (lease.granted)
      self_->anon_send(st_.plan.candidates[pos].pool, release_atom::value, lease.id);
    return true;
  }
  if (lease.granted) {
    open_candidate(pos, lease.id);
    return true;
  }
  note_refusal(pos, lease.retry_after_ms);
  return false;
}

void session_ops::note_refusal(std::size_t pos, std::uint32_t retry_after_ms) {
  ++st_.quota_refusals;
  st_.refused_for_ms[pos] = retry_after_ms;
}

// Out of candidates, attempts or time: the client gets one explicit error.
void session_ops::give_up() {
  if (st_.ended()) return;
  if (st_.attempt > 0) {
    emit(st_.last_failure);
  } else if (st_.quota_refusals > 0) {
    std::uint32_t ms = 0;
    for (std::size_t i = 0; i < st_.refused_for_ms.size(); ++i) {
      if (st_.refused_for_ms[i] > 0 && (ms == 0 || st_.refused_for_ms[i] < ms))
        ms = st_.refused_for_ms[i];
    }
    auto ev = stream_event::make_error(
        std::string{error_code::quota_exhausted},
        "every provider of model '" + st_.request.model + "' is at its quota; retry later");
    ev.retry_after_s = std::max<std::uint32_t>(1, (ms + 999) / 1000);
    emit(std::move(ev));
  } else {
    emit(stream_event::make_error(
        std::string{error_code::no_provider_available},
        "no provider can serve model '" + st_.request.model + "' right now"));
  }
}

void session_ops::open_candidate(std::size_t pos, std::uint64_t lease_id) {
  auto& candidate = st_.plan.candidates[pos];
  st_.tried[pos] = true;
  st_.lease_pool = candidate.pool;
  st_.lease_id = lease_id;
  auto attempt = ++st_.attempt;
  st_.outcome_reported = false;
  st_.attempt_open = true;
  if (attempt > 1) {
    stats::session().failovers.with({st_.request.model}).inc();
    if (st_.registry) st_.registry->failovers.fetch_add(1, std::memory_order_relaxed);
    log::info("failover", {{"session", st_.id},
                           {"provider", candidate.provider},
                           {"attempt", attempt},
                           {"previous_error", st_.last_failure.code}});
  }
  auto provider_name = candidate.provider;
  st_.provider = provider_name;
  st_.log->open_lane(attempt);
  if (candidate.opener) {
    open_directly(pos);
    return;
  }
  self_
      ->request(candidate.handle, st_.options.open_timeout, open_atom::value, st_.request,
                upstream_target{session_actor{self_}, attempt, st_.log})
      .then(
          [self = self_, attempt](upstream_actor& up) {
            auto& st = self->state;
            // The answer may come after its attempt ended: its upstream failed first (an error
            // sent before the provider answered), or the session gave up on it. Watching that
            // upstream now would fail whatever attempt runs when it exits.
            if (st.ended() || attempt != st.attempt || !st.attempt_open) {
              self->anon_send(up, cancel_atom::value);
              return;
            }
            st.upstream = up;
            self->monitor(up);
          },
          [self = self_, attempt, pos, provider_name](caf::error& err) {
            session_ops ops{self};
            auto& st = self->state;
            if (st.ended() || attempt != st.attempt || !st.attempt_open) return;
            if (err == caf::sec::request_receiver_down && !st.plan_refreshed) {
              ops.refresh_and_reopen(pos);
              return;
            }
            ops.attempt_failed(stream_event::make_error(
                std::string{error_code::upstream_error},
                "provider '" + provider_name +
                    "' could not open a stream: " + self->system().render(err)));
          });
}

void session_ops::open_directly(std::size_t pos) {
  auto attempt = st_.attempt;
  auto& candidate = st_.plan.candidates[pos];
  st_.transfer = candidate.opener->open(
      st_.request, {attempt, st_.log, [session = session_actor{self_}, attempt](stream_event ev) {
                      caf::anon_send(session, upstream_atom::value, attempt, std::move(ev));
                    }});
  if (st_.transfer) return;
  // Its provider has just gone down; it may have been restarted since the plan was made.
  if (!st_.plan_refreshed) {
    refresh_and_reopen(pos);
    return;
  }
  attempt_failed(stream_event::make_error(
      std::string{error_code::upstream_error},
      "provider '" + candidate.provider + "' could not open a stream: it is stopping"));
}

// An attempt ended in error: before the first token another provider may take over.
void session_ops::attempt_failed(stream_event ev) {
  st_.log->close_lane();
  st_.upstream = nullptr;
  st_.transfer.reset();
  end_attempt(ev.code);
  log::info("attempt_failed", {{"session", st_.id},
                               {"provider", st_.provider},
                               {"attempt", st_.attempt},
                               {"code", ev.code},
                               {"message", ev.text}});  // what the client may see anyway
  if (ev.code == error_code::upstream_rate_limited && st_.lease_pool) {
    // The provider knows its quota better than our configuration: hold the pool back.
    auto s = ev.retry_after_s > 0 ? ev.retry_after_s : 1;
    self_->anon_send(st_.lease_pool, pause_atom::value, s * 1000);
  } else if (ev.code != error_code::upstream_bad_request &&
             ev.code != error_code::upstream_model_not_found) {
    report_outcome(false);
  }
  release_lease();
  if (before_first_token() && is_retryable_before_first_token(ev.code)) {
    st_.last_failure = std::move(ev);
    try_next_candidate();
    return;
  }
  emit(std::move(ev));
}

void session_ops::report_outcome(bool ok) {
  if (st_.outcome_reported || !st_.health) return;
  st_.outcome_reported = true;
  self_->anon_send(st_.health, outcome_atom::value, st_.provider, ok);
}

void session_ops::release_lease() {
  if (st_.lease_id == 0) return;
  self_->anon_send(st_.lease_pool, release_atom::value, st_.lease_id);
  st_.lease_id = 0;
}

void session_ops::leave_queue() {
  if (!st_.waiting_pool) return;
  self_->send(st_.waiting_pool, withdraw_atom::value);
  st_.waiting_pool = nullptr;
}

void session_ops::on_pool_restarted(const quota_pool_actor& old, const quota_pool_actor& fresh) {
  auto was = [&](const quota_pool_actor& p) {
    return p && caf::actor_cast<caf::actor_addr>(p) == caf::actor_cast<caf::actor_addr>(old);
  };
  for (auto& c : st_.plan.candidates) {
    if (was(c.pool)) c.pool = fresh;
  }
  if (st_.ended()) return;
  if (st_.lease_id != 0 && was(st_.lease_pool)) {
    st_.lease_pool = fresh;
    st_.reclaiming = st_.lease_id;
    self_->request(fresh, st_.options.open_timeout, reclaim_atom::value)
        .then(
            [self = self_, fresh](quota_lease& lease) {
              auto& st = self->state;
              // Released meanwhile (to the new pool, which ignored the old id): give the
              // carried-over lease back at once.
              if (st.lease_id != st.reclaiming || st.lease_id == 0) {
                self->anon_send(fresh, release_atom::value, lease.id);
              } else {
                st.lease_id = lease.id;
              }
              st.reclaiming = 0;
            },
            [self = self_](caf::error&) { self->state.reclaiming = 0; });
  }
  if (was(st_.waiting_pool)) {
    // The old pool's answer will never come: queue again at the new one, with what is left
    // of the deadline. The answer to the old wait, if one was on its way, is now stale.
    st_.waiting_pool = nullptr;
    wait_for_room();
  }
}

// No first token within the deadline: whatever is under way is abandoned.
void session_ops::on_deadline() {
  if (!before_first_token()) return;
  log::warn("attempt_deadline", {{"session", st_.id}, {"attempts", st_.attempt}});
  if (st_.attempt > 0 && !st_.outcome_reported) {  // an attempt is still waiting
    report_outcome(false);
    st_.last_failure = stream_event::make_error(
        std::string{error_code::upstream_first_byte_timeout},
        "no first token within " + std::to_string(st_.options.attempt_deadline.count()) + " ms");
  }
  stop_upstream(error_code::upstream_first_byte_timeout);
  give_up();
}

std::chrono::milliseconds session_ops::remaining() const {
  auto spent = self_->clock().now() - st_.started_at;
  return std::chrono::duration_cast<std::chrono::milliseconds>(st_.options.attempt_deadline -
                                                               spent);
}

// The provider actor in the plan is gone: it crashed, and may have been restarted since the
// plan was made (a request that waited in a queue). Ask the router once for current handles
// (a lookup: a new plan would take a breaker probe and a round-robin turn) and try the same
// provider again with the lease already held.
void session_ops::refresh_and_reopen(std::size_t pos) {
  st_.plan_refreshed = true;
  if (auto table = st_.router->table()) {
    reopen_with(pos, table->lookup(st_.request.model));
    return;
  }
  self_->request(st_.router->get(), st_.options.open_timeout, lookup_atom::value, st_.request.model)
      .then(
          [self = self_, pos](route_plan& fresh) {
            if (!self->state.ended()) session_ops{self}.reopen_with(pos, fresh);
          },
          [self = self_](caf::error& err) {
            if (self->state.ended()) return;
            session_ops{self}.attempt_failed(
                stream_event::make_error(std::string{error_code::upstream_error},
                                         "routing failed: " + self->system().render(err)));
          });
}

void session_ops::reopen_with(std::size_t pos, const route_plan& fresh) {
  bool found = false;
  for (auto& f : fresh.candidates) {
    for (auto& c : st_.plan.candidates) {
      if (c.provider != f.provider) continue;
      c.handle = f.handle;
      c.opener = f.opener;
      found = found || &c == &st_.plan.candidates[pos];
    }
  }
  if (!found) {
    attempt_failed(stream_event::make_error(
        std::string{error_code::upstream_error},
        "provider '" + st_.plan.candidates[pos].provider + "' is restarting"));
    return;
  }
  --st_.attempt;  // a stale handle is not an attempt on the provider
  open_candidate(pos, st_.lease_id);
}

}  // namespace streamgate
