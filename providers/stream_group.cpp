#include "providers/stream_group.hpp"

#include <caf/all.hpp>

#include <vector>

namespace streamgate {

std::shared_ptr<stream_group> stream_group::of(caf::local_actor* provider) {
  auto group = std::make_shared<stream_group>();
  group->provider_ = provider->address();
  // Held by the functor: the provider's behavior, which holds the group too, is gone by the
  // time its attachables run.
  provider->attach_functor([group](const caf::error& reason) { group->end_all(reason); });
  return group;
}

void stream_group::join(const caf::strong_actor_ptr& stream) {
  if (!stream) return;
  auto id = stream->id();
  std::optional<caf::error> ended;
  {
    std::lock_guard<std::mutex> lock{mu_};
    ended = ended_;
    if (!ended) live_.emplace(id, caf::actor_cast<caf::weak_actor_ptr>(stream));
  }
  if (ended) {  // spawned while its provider was going down
    send_exit(stream, *ended);
    return;
  }
  // Runs at once if the stream has ended already.
  stream->get()->attach_functor([weak = weak_from_this(), id] {
    if (auto g = weak.lock()) {
      std::lock_guard<std::mutex> lock{g->mu_};
      g->live_.erase(id);
    }
  });
}

std::size_t stream_group::size() const {
  std::lock_guard<std::mutex> lock{mu_};
  return live_.size();
}

void stream_group::end_all(const caf::error& reason) {
  std::vector<caf::strong_actor_ptr> streams;
  {
    std::lock_guard<std::mutex> lock{mu_};
    ended_ = reason;
    for (auto& [id, weak] : live_)
      if (auto s = caf::actor_cast<caf::strong_actor_ptr>(weak)) streams.push_back(std::move(s));
    live_.clear();
  }
  for (auto& s : streams) send_exit(s, reason);
}

void stream_group::send_exit(const caf::strong_actor_ptr& stream, const caf::error& reason) const {
  // A provider that quit normally leaves its streams be, as a link does.
  if (!reason) return;
  stream->enqueue(nullptr, caf::make_message_id(),
                  caf::make_message(caf::exit_msg{provider_, reason}), nullptr);
}

}  // namespace streamgate
