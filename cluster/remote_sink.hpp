#pragma once

#include "cluster/relay_actor.hpp"

#include <streamgate/event_sink.hpp>

namespace streamgate {

// A session's sink for a client on another node: what the session delivers goes to that
// client's relay. Mailboxes are unbounded, so it never reports a slow consumer itself; the
// relay does when the client's own sink is full, and the session's log budget bounds what
// one session holds.
class remote_sink final : public event_sink {
 public:
  explicit remote_sink(relay_actor relay) : relay_(std::move(relay)) {}

  bool deliver(const event_ptr& ev) override;
  void attached(std::uint64_t last_seq, bool ended) override;
  void replay_paused(std::uint64_t last_seq) override;
  void detached(detach_reason reason) override;
  const char* transport() const override { return "cluster"; }

  const relay_actor& relay() const { return relay_; }

 private:
  relay_actor relay_;
};

}  // namespace streamgate
