#pragma once

#include <caf/actor_addr.hpp>

#include <cstddef>
#include <cstdint>
#include <map>

namespace streamgate {

// The actors that hold something of an actor (leases, queued requests), counted; each is
// monitored while it holds anything, because its down message is how what it held comes back.
class holder_count {
 public:
  template <class Self>
  void hold(Self self, const caf::actor_addr& holder) {
    if (counts_[holder]++ == 0) self->monitor(holder);
  }

  template <class Self>
  void unhold(Self self, const caf::actor_addr& holder) {
    auto it = counts_.find(holder);
    if (it == counts_.end()) return;
    if (--it->second == 0) {
      self->demonitor(holder);
      counts_.erase(it);
    }
  }

  // The holder died: false if it held nothing here.
  bool forget(const caf::actor_addr& holder) { return counts_.erase(holder) != 0; }

  bool empty() const { return counts_.empty(); }
  std::size_t size() const { return counts_.size(); }

 private:
  std::map<caf::actor_addr, std::uint32_t> counts_;
};

}  // namespace streamgate
