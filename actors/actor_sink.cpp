#include "actors/actor_sink.hpp"

#include "actors/messages.hpp"

#include <caf/send.hpp>

namespace streamgate {

bool actor_sink::deliver(const event_ptr& ev) {
  caf::anon_send(receiver_, *ev);
  return true;
}

}  // namespace streamgate
