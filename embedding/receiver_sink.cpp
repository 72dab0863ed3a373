#include "embedding/receiver_sink.hpp"

#include <caf/send.hpp>

namespace streamgate {

bool receiver_sink::deliver(const event_ptr& ev) {
  caf::anon_send(receiver_, session_event{session_id_, *ev});
  if (ev->terminal()) done_ = true;
  return true;
}

void receiver_sink::detached(detach_reason reason) {
  caf::anon_send(receiver_, session_detached{session_id_, reason});
  done_ = true;
}

}  // namespace streamgate
