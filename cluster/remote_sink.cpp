#include "cluster/remote_sink.hpp"

#include <caf/send.hpp>

namespace streamgate {

bool remote_sink::deliver(const event_ptr& ev) {
  caf::anon_send(relay_, event_atom::value, to_wire(*ev));
  return true;
}

void remote_sink::attached(std::uint64_t last_seq, bool ended) {
  caf::anon_send(relay_, attached_atom::value, last_seq, ended);
}

void remote_sink::replay_paused(std::uint64_t last_seq) {
  caf::anon_send(relay_, paused_atom::value, last_seq);
}

void remote_sink::detached(detach_reason reason) {
  caf::anon_send(relay_, detached_atom::value, static_cast<std::uint8_t>(reason));
}

}  // namespace streamgate
