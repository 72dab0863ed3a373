#pragma once

#include <caf/actor_addr.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace streamgate {

// The live streams of one provider actor, which end when it ends: what linking each stream
// to its provider did, at a constant cost per stream. CAF keeps each link as an entry in the
// provider's attachables list and scans that list on every unlink, so with links a stream's
// end cost O(live streams) under the provider's lock: with thousands of streams a cost per
// stream that grows with the load (bench/notes.md). Here a stream's end is one hash erase.
// Unlike a link, a stream that fails does not take its provider down.
class stream_group : public std::enable_shared_from_this<stream_group> {
 public:
  // Makes the group of `provider`: when it ends, every stream still in the group gets the
  // exit message a link would have sent, with the provider's reason.
  static std::shared_ptr<stream_group> of(caf::local_actor* provider);

  // Adds a stream just spawned by the provider; it leaves the group when it ends.
  void join(const caf::strong_actor_ptr& stream);

  std::size_t size() const;

 private:
  void end_all(const caf::error& reason);
  void send_exit(const caf::strong_actor_ptr& stream, const caf::error& reason) const;

  caf::actor_addr provider_;
  mutable std::mutex mu_;
  std::unordered_map<caf::actor_id, caf::weak_actor_ptr> live_;  // guarded by mu_
  std::optional<caf::error> ended_;                              // guarded by mu_
};

}  // namespace streamgate
