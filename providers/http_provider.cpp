#include "providers/http_provider.hpp"

#include "providers/stream_group.hpp"
#include "providers/upstream_stream.hpp"

#include <caf/all.hpp>

#include <chrono>

namespace streamgate {
namespace {

std::int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

provider_actor::behavior_type http_provider(provider_actor::pointer self,
                                            http_provider_config config,
                                            std::shared_ptr<transfer_runner> driver,
                                            std::atomic<std::int64_t>* upstreams) {
  // Like the mock: a provider crash ends its streams, and sessions fail over.
  auto streams = stream_group::of(self);
  return {
      [self, config, driver, upstreams, streams](open_atom, const chat_request& req,
                                                 upstream_target& target) -> upstream_actor {
        auto s =
            spawn_upstream_stream(self, std::move(target), config.name,
                                  build_request(config, req, wall_clock_ms()), driver, upstreams);
        streams->join(caf::actor_cast<caf::strong_actor_ptr>(s));
        return s;
      },
  };
}

}  // namespace streamgate
