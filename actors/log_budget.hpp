#pragma once

// The memory that session logs hold, under one budget for the whole process
// (`sessions.log_budget_bytes`). Every event_log charges what its events cost the heap as it
// appends them, and gives it all back when it is destroyed. Past the budget, sessions are
// evicted until the logs fit again:
//   1. ended sessions, kept only for a resume, oldest-ended first: they go away at once (a
//      later resume gets session_not_found);
//   2. only when no ended session is left, the running session whose log holds the most: it
//      ends with the error log_budget_exceeded and goes away too.
// Thread-safe: logs charge from their session's actor and from their upstream's thread (the
// lane). A charge under the budget is two atomic adds; only past it is the mutex taken.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_set>

namespace streamgate {

class log_budget {
 public:
  // Asks a session to go; called outside the budget's lock, on whichever thread charged.
  using evict_fn = std::function<void()>;

  // One log's share of the budget; the log owns it. Without a budget it only counts.
  class account {
   public:
    account(std::shared_ptr<log_budget> budget, evict_fn evict);
    account(const account&) = delete;
    account& operator=(const account&) = delete;
    ~account();  // gives everything back

    // Adds `n` bytes; may evict some session (this one's too) when the budget is spent.
    void charge(std::uint64_t n);
    // The log ended: from now on it is kept only for a resume, and goes first.
    void ended();
    std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
    // The budget picked this log: a running one takes nothing more from its upstream, so an
    // upstream faster than the session's mailbox cannot outgrow the budget meanwhile.
    bool told_to_go() const { return told_.load(std::memory_order_relaxed); }

   private:
    friend class log_budget;
    std::shared_ptr<log_budget> budget_;
    evict_fn evict_;
    std::atomic<std::uint64_t> bytes_{0};
    std::atomic<bool> told_{false};
    std::uint64_t ended_order_ = 0;  // guarded by the budget's mutex; 0: running
  };

  explicit log_budget(std::uint64_t limit_bytes);

  // Calls `hook` (outside the lock, on the thread that freed) each time logs holding `every`
  // bytes more have been given back: freed memory stays with the allocator until someone
  // trims it (the gateway's memory_trimmer). Set before the first log joins.
  void on_released(std::uint64_t every, std::function<void()> hook);

  std::uint64_t limit() const { return limit_; }
  // Bytes held by every log now (the streamgate_session_log_bytes gauge).
  std::uint64_t held() const { return held_.load(std::memory_order_relaxed); }
  // Sessions told to go, by the state they were in.
  std::uint64_t evicted_ended() const { return evicted_ended_.load(std::memory_order_relaxed); }
  std::uint64_t evicted_running() const { return evicted_running_.load(std::memory_order_relaxed); }

 private:
  void join(account* a);
  void leave(account* a);
  void charge(std::uint64_t n);
  void ended(account* a);
  void enforce();

  const std::uint64_t limit_;
  std::atomic<std::uint64_t> held_{0};
  std::atomic<std::uint64_t> evicted_ended_{0};
  std::atomic<std::uint64_t> evicted_running_{0};
  std::mutex mutex_;
  std::unordered_set<account*> running_;
  std::map<std::uint64_t, account*> ended_;  // by the order they ended in
  // Told to go, not yet destroyed: their bytes are as good as given back. Summed when the
  // budget is spent, so a log that still grows until its session hears the news is counted
  // right, and nobody else is evicted for it.
  std::unordered_set<account*> leaving_;
  std::uint64_t next_ended_order_ = 1;
  std::uint64_t release_every_ = 0;
  std::function<void()> released_hook_;
  std::uint64_t released_ = 0;  // given back since the hook was last called
};

}  // namespace streamgate
