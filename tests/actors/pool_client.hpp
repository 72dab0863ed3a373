#pragma once

// A lease holder for quota pool tests (a pool, or a pool proxy: the same interface): asks
// once, records the answer, and releases (or stops waiting) when told to. A real actor rather
// than a scoped one, so that a test can kill it.

#include "actors/quota_pool_actor.hpp"

#include <caf/all.hpp>

#include <vector>

namespace streamgate::test {

struct grant_record {
  int client;
  quota_lease lease;
  caf::actor_clock::time_point at;
};

using client_actor = caf::typed_actor<caf::reacts_to<release_atom>, caf::reacts_to<withdraw_atom>>;

struct client_state {
  std::uint64_t lease = 0;
};

inline client_actor::behavior_type pool_client(client_actor::stateful_pointer<client_state> self,
                                               quota_pool_actor pool, std::uint32_t wait_ms, int id,
                                               std::vector<grant_record>* out,
                                               bool release_at_once = false) {
  self->request(pool, caf::infinite, acquire_atom::value, wait_ms).then([=](quota_lease& l) {
    out->push_back({id, l, self->clock().now()});
    self->state.lease = l.granted ? l.id : 0;
    if (l.granted && release_at_once) self->send(pool, release_atom::value, l.id);
  });
  return {[=](release_atom) {
            if (self->state.lease != 0) self->send(pool, release_atom::value, self->state.lease);
            self->state.lease = 0;
          },
          [=](withdraw_atom) { self->send(pool, withdraw_atom::value); }};
}

}  // namespace streamgate::test
