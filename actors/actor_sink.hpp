#pragma once

#include "actors/event_sink.hpp"

#include <caf/actor.hpp>

namespace streamgate {

// A sink for embedding applications: every event of the session arrives at `receiver` as a
// message `(stream_event)`, so a CAF application consumes a stream with an ordinary
// behaviour. Mailboxes are unbounded, so this sink never reports a slow consumer.
class actor_sink final : public event_sink {
 public:
  explicit actor_sink(caf::actor receiver) : receiver_(std::move(receiver)) {}

  bool deliver(const event_ptr& ev) override;
  const char* transport() const override { return "embedded"; }

 private:
  caf::actor receiver_;
};

}  // namespace streamgate
