#pragma once

#include "actors/atoms.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/node_id.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>

namespace streamgate {

// A quota pool's answer to acquire: a lease, or a refusal with the time after which asking
// again may succeed.
struct quota_lease {
  bool granted = false;
  std::uint64_t id = 0;              // pass back in release
  std::uint32_t retry_after_ms = 0;  // refusals only
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, quota_lease& x) {
  return f(caf::meta::type_name("streamgate::quota_lease"), x.granted, x.id, x.retry_after_ms);
}

// Requests-per-minute and concurrent-stream limits of one provider or shared quota key.
// The sender of acquire holds the lease: the pool monitors it and releases the lease when it
// dies, so a lease cannot leak.
using quota_pool_actor = caf::typed_actor<
    // Wait up to `wait_ms` in the FIFO queue for a lease (0: answer at once).
    caf::replies_to<acquire_atom, std::uint32_t>::with<quota_lease>,
    caf::reacts_to<release_atom, std::uint64_t>,
    // The sender holds a lease of this pool's crashed predecessor, and its stream still runs:
    // the lease carries over, out of the reserve the pool started with (quota_carry), without
    // a check for room or a new place in the rate window. Always granted.
    caf::replies_to<reclaim_atom>::with<quota_lease>,
    // The sender no longer waits (its session ended while queued): its queued requests leave
    // the queue at once and are answered with a refusal, so neither the queue length nor
    // max_queue counts a waiter nobody will use.
    caf::reacts_to<withdraw_atom>,
    // The upstream said 429 Retry-After: grant nothing for this many milliseconds.
    caf::reacts_to<pause_atom, std::uint32_t>,
    // Cluster mode: the sender's node served this pool on its own while the pool was out of
    // its reach (docs/cluster.md, degraded mode), and still holds `leases` of those leases and
    // made `grants` grants in the last minute. Both count as this pool's at once; the holders
    // reclaim the leases next (reclaim_atom), and the rest of the reserve ends as quota_carry's.
    caf::reacts_to<rejoin_atom, std::uint32_t, std::uint32_t>>;

// What the pool's own node may tell it in cluster mode, never another node: room to keep
// for others (hold_back: what peers hold beyond their shares, to a degraded pool; unreachable
// and reachable: a node out of reach that may go on serving its share, to the owner).
using quota_pool_control =
    quota_pool_actor::extend<caf::reacts_to<hold_back_atom, std::uint32_t>,
                             caf::reacts_to<unreachable_atom, caf::node_id, std::uint32_t>,
                             caf::reacts_to<reachable_atom, caf::node_id>>;

}  // namespace streamgate
