#include "actors/event_log.hpp"

#include "telemetry/metrics.hpp"
#include "telemetry/stats.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

namespace streamgate {
namespace {

using seconds_d = std::chrono::duration<double>;

void count_client(const sink_ptr& s, int delta) {
  stats::session().clients.with({s->transport()}).inc(delta);
}

// A malloc'd block of `n` bytes as glibc's allocator spends it: a size header, rounded up to
// 16 bytes, 32 at least.
std::uint64_t malloc_block(std::size_t n) {
  return std::max<std::uint64_t>(32, (n + sizeof(std::size_t) + 15) / 16 * 16);
}

std::uint64_t string_buffer(const std::string& s) {
  auto object = reinterpret_cast<std::uintptr_t>(&s);
  auto data = reinterpret_cast<std::uintptr_t>(s.data());
  bool in_place = data >= object && data < object + sizeof s;  // the short-string buffer
  return in_place ? 0 : malloc_block(s.capacity() + 1);
}

// What one logged event costs the heap: make_shared's one block (the event, a vtable pointer
// and two reference counts) and each string's own buffer; the log's index is counted as it
// grows.
std::uint64_t heap_bytes(const stream_event& ev) {
  constexpr std::size_t control_block = sizeof(void*) + 2 * sizeof(std::int32_t);
  auto bytes = malloc_block(control_block + sizeof(stream_event)) + string_buffer(ev.text) +
               string_buffer(ev.code);
  // Fields shared by several pieces (a chunk's system_fingerprint) are charged to each: an
  // overestimate, on the side of the budget.
  if (const auto* f = ev.fields.get())
    bytes += malloc_block(control_block + sizeof(delta_fields)) + string_buffer(f->delta) +
             string_buffer(f->choice) + string_buffer(f->chunk) + string_buffer(f->finish_reason);
  return bytes;
}

}  // namespace

event_log::event_log(options o) : opts_(std::move(o)), account_(opts_.budget, opts_.evicted) {
  if (opts_.first_sink) {
    count_client(opts_.first_sink, 1);
    sinks_.push_back(std::move(opts_.first_sink));
  }
}

event_log::~event_log() {
  drop_sinks();
}

event_log::appended event_log::append(stream_event ev) {
  auto now = opts_.now();
  bool terminal = ev.terminal();
  appended a;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    a = append_locked(std::move(ev), now);
  }
  // Outside the lock: past the budget, the charge tells some session (maybe this one) to go.
  account_.charge(a.heap_bytes);
  if (a.logged && terminal) account_.ended();
  return a;
}

bool event_log::append_from_upstream(std::uint32_t attempt, stream_event ev) {
  if (ev.terminal()) return false;
  auto now = opts_.now();
  appended a;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    // Told to go by the budget: the session ends it with log_budget_exceeded; nothing more.
    if (lane_ == 0 || lane_ != attempt || account_.told_to_go()) return false;
    a = append_locked(std::move(ev), now);
  }
  account_.charge(a.heap_bytes);
  if (a.first_delta && opts_.first_delta) opts_.first_delta(attempt);
  if (a.sinks_lost && opts_.sinks_lost) opts_.sinks_lost();
  return a.logged;
}

event_log::appended event_log::append_locked(stream_event&& ev, clock::time_point now) {
  appended a;
  if (ended_) return a;  // exactly one terminal event: later ones are dropped
  a.logged = true;
  ev.seq = events_.size() + 1;
  auto ptr = std::make_shared<const stream_event>(std::move(ev));
  auto capacity = events_.capacity();
  events_.push_back(ptr);
  a.heap_bytes = heap_bytes(*ptr) + (events_.capacity() - capacity) * sizeof(event_ptr);
  if (ptr->is_output()) {
    if (tokens_++ == 0) {
      a.first_delta = true;
      first_token_at_ = now;
      if (opts_.ttft) opts_.ttft->observe(seconds_d(now - opts_.started_at).count());
    } else if (opts_.gap) {
      opts_.gap->observe(seconds_d(now - last_delta_at_).count());
    }
    last_delta_at_ = now;
    bytes_ += ptr->text.size();
    if (opts_.bytes) opts_.bytes->inc(ptr->text.size());
  }
  if (opts_.observer) opts_.observer->deliver(ptr);
  bool dropped = false;
  for (auto it = sinks_.begin(); it != sinks_.end();) {
    if ((*it)->deliver(ptr)) {
      ++it;
      continue;
    }
    (*it)->detached(detach_reason::slow_consumer);
    count_client(*it, -1);
    it = sinks_.erase(it);
    dropped = true;
  }
  if (ptr->terminal()) {
    ended_ = true;
    lane_ = 0;
    for (auto& s : sinks_) count_client(s, -1);
    sinks_.clear();  // every sink has its terminal event and closes on its own
  }
  // Losing the last client to its own slowness is a detach like any other.
  a.sinks_lost = dropped && sinks_.empty() && !ended_;
  return a;
}

void event_log::open_lane(std::uint32_t attempt) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (ended_) return;
  lane_ = attempt;
}

void event_log::close_lane() {
  std::lock_guard<std::mutex> lock{mutex_};
  lane_ = 0;
}

bool event_log::attach(sink_ptr sink, std::uint64_t after_seq) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (after_seq > events_.size()) {
    // Not a seq of this log: the events after it do not exist yet, and the next ones to come
    // would have smaller seqs than the client says it has.
    sink->detached(detach_reason::cursor_ahead);
    return false;
  }
  // Flow-controlled: a long log is handed over in parts of what the sink can hold, so a
  // client that does not read holds no more of it than its budget (docs/architecture.md).
  for (auto i = after_seq; i < events_.size(); ++i) {
    if (!sink->offer(events_[i])) {
      sink->replay_paused(i);  // it took the events up to seq i
      return false;
    }
  }
  sink->attached(events_.size(), ended_);
  if (ended_) return false;  // the replay held the terminal event; nothing live follows
  count_client(sink, 1);
  sinks_.push_back(std::move(sink));
  return true;
}

bool event_log::detach(const sink_ptr& sink) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto n = std::count(sinks_.begin(), sinks_.end(), sink);
  if (n == 0) return false;
  count_client(sink, -static_cast<int>(n));
  sinks_.erase(std::remove(sinks_.begin(), sinks_.end(), sink), sinks_.end());
  return sinks_.empty() && !ended_;
}

void event_log::drop_sinks() {
  std::lock_guard<std::mutex> lock{mutex_};
  for (auto& s : sinks_) count_client(s, -1);
  sinks_.clear();
}

bool event_log::has_sinks() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return !sinks_.empty();
}

bool event_log::has_deltas() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return tokens_ > 0;
}

std::uint64_t event_log::size() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return events_.size();
}

event_ptr event_log::last() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return events_.empty() ? nullptr : events_.back();
}

std::uint32_t event_log::tokens() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return tokens_;
}

std::uint64_t event_log::bytes() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return bytes_;
}

event_log::clock::time_point event_log::first_token_at() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return first_token_at_;
}

}  // namespace streamgate
