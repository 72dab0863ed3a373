#pragma once

#include "actors/session_actor.hpp"

#include <atomic>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace streamgate {

// Sessions by id. Ids are 128 random bits: a session is reachable only by whoever was told
// its id. Lookups are rare (attach, cancel), so one mutex is enough; the event hot path
// never touches the registry.
class session_registry {
 public:
  static std::string new_id();

  // Spawns (through `make`) and adds a session unless `limit` live sessions exist already.
  // `owner`: the tag of the key that started it (start_options::owner), for cluster peers.
  template <class Factory>
  std::optional<session_actor> add(const std::string& id, std::size_t limit, Factory&& make,
                                   const std::string& owner = {}) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (sessions_.size() >= limit) return std::nullopt;
    auto handle = make();
    sessions_.emplace(id, handle);
    if (!owner.empty()) owners_.emplace(id, owner);
    // Counted here, not when the session first runs: a session that was just started is
    // active (drain and tests wait for it) even before it was scheduled.
    active.fetch_add(1, std::memory_order_relaxed);
    return handle;
  }
  void remove(const std::string& id);
  std::optional<session_actor> find(const std::string& id) const;
  // The session, if it exists and `owner` is the tag it was started with.
  std::optional<session_actor> find_owned(const std::string& id, const std::string& owner) const;
  std::vector<session_actor> all() const;
  std::size_t size() const;

  // Sessions whose stream is still running (not yet finished, failed or cancelled).
  std::atomic<std::int64_t> active{0};
  // Upstream requests in flight (HTTP transfers and mock generators).
  std::atomic<std::int64_t> upstreams{0};
  // Attempts that moved a session to another provider before its first token (metrics).
  std::atomic<std::uint64_t> failovers{0};

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, session_actor> sessions_;
  std::unordered_map<std::string, std::string> owners_;  // non-empty tags only
};

}  // namespace streamgate
