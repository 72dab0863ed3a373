#include "actors/log_budget.hpp"

#include "telemetry/stats.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace streamgate {

log_budget::account::account(std::shared_ptr<log_budget> budget, evict_fn evict)
    : budget_(std::move(budget)), evict_(std::move(evict)) {
  if (budget_) budget_->join(this);
}

log_budget::account::~account() {
  if (budget_) budget_->leave(this);
}

void log_budget::account::charge(std::uint64_t n) {
  bytes_.fetch_add(n, std::memory_order_relaxed);
  if (budget_) budget_->charge(n);
}

void log_budget::account::ended() {
  if (budget_) budget_->ended(this);
}

log_budget::log_budget(std::uint64_t limit_bytes) : limit_(limit_bytes) {}

void log_budget::join(account* a) {
  std::lock_guard<std::mutex> lock{mutex_};
  running_.insert(a);
}

void log_budget::on_released(std::uint64_t every, std::function<void()> hook) {
  release_every_ = every;
  released_hook_ = std::move(hook);
}

void log_budget::leave(account* a) {
  bool tell = false;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    running_.erase(a);
    if (a->ended_order_ != 0) ended_.erase(a->ended_order_);
    leaving_.erase(a);
    held_.fetch_sub(a->bytes(), std::memory_order_relaxed);
    released_ += a->bytes();
    if (released_hook_ && released_ >= release_every_) {
      released_ = 0;
      tell = true;
    }
  }
  if (tell) released_hook_();
}

void log_budget::charge(std::uint64_t n) {
  if (held_.fetch_add(n, std::memory_order_relaxed) + n > limit_) enforce();
}

void log_budget::ended(account* a) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (leaving_.count(a) != 0) return;  // already told to go
  running_.erase(a);
  a->ended_order_ = next_ended_order_++;
  ended_.emplace(a->ended_order_, a);
}

void log_budget::enforce() {
  std::vector<std::pair<evict_fn, bool>> told;  // and whether it was running
  {
    std::lock_guard<std::mutex> lock{mutex_};
    std::uint64_t going = 0;
    for (auto* a : leaving_) going += a->bytes();
    auto over = [&] {
      auto held = held_.load(std::memory_order_relaxed);
      return held > going && held - going > limit_;
    };
    while (over()) {
      account* victim = nullptr;
      bool running = ended_.empty();
      if (!running) {
        victim = ended_.begin()->second;
        ended_.erase(ended_.begin());
      } else if (!running_.empty()) {
        victim = *std::max_element(running_.begin(), running_.end(),
                                   [](account* x, account* y) { return x->bytes() < y->bytes(); });
        running_.erase(victim);
      } else {
        break;  // everything left is on its way out
      }
      leaving_.insert(victim);
      victim->told_.store(true, std::memory_order_relaxed);
      going += victim->bytes();
      told.emplace_back(victim->evict_, running);
    }
  }
  // Outside the lock: telling a session may drop the last reference to a dying actor, whose
  // log would then come back here to leave.
  for (auto& [evict, running] : told) {
    (running ? evicted_running_ : evicted_ended_).fetch_add(1, std::memory_order_relaxed);
    stats::session().log_evictions.with({running ? "running" : "ended"}).inc();
    if (evict) evict();
  }
}

}  // namespace streamgate
