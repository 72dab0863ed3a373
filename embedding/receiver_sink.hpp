#pragma once

#include <streamgate/gateway_actor.hpp>

#include <atomic>
#include <string>

namespace streamgate {

// A session's sink for an application's receiver actor: every event goes to it as a
// session_event carrying the session's id. Mailboxes are unbounded, so this sink never
// reports a slow consumer; the session log's budget bounds what one session can send.
class receiver_sink final : public event_sink {
 public:
  receiver_sink(std::string session_id, event_receiver_actor receiver)
      : session_id_(std::move(session_id)), receiver_(std::move(receiver)) {}

  bool deliver(const event_ptr& ev) override;
  void detached(detach_reason reason) override;
  const char* transport() const override { return "embedded"; }

  const std::string& session_id() const { return session_id_; }
  const event_receiver_actor& receiver() const { return receiver_; }
  // The session delivers nothing more to it: it had the terminal event, or was detached.
  bool done() const { return done_.load(std::memory_order_relaxed); }
  // The gateway let go of it (a detach, a failed attach): nothing more is expected.
  void retire() { done_ = true; }

 private:
  std::string session_id_;
  event_receiver_actor receiver_;
  std::atomic<bool> done_{false};
};

}  // namespace streamgate
