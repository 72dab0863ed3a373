#pragma once

#include "actors/event_sink.hpp"
#include "transports/post_gate.hpp"

#include <boost/asio/post.hpp>

#include <atomic>
#include <memory>

namespace streamgate {

// What became of an event offered to a connection on the thread that produced it.
enum class inline_delivery {
  written,   // rendered and handed to the socket (or queued behind a write under way)
  busy,      // not now (the strand is running, or the event is not for this path): post it
  too_slow,  // the client has more unread than the limit allows
};

// A sink that moves a session's events onto a connection's strand. `Connection` provides
// on_event / on_attached / on_detached, all run on that strand, each told which sink it came
// from: a connection outlives its sinks (keep-alive requests, WebSocket streams), and a late
// event of an earlier sink must never be mistaken for one of the current sink.
// The only cross-thread state is a byte count, so a client that stops reading is noticed
// without a lock.
//
// A connection whose `writes_inline` is true may also take an event directly on the
// delivering thread (deliver_now): for a streamed token that saves the hand-over to the I/O
// thread, which on a VM costs two wake-ups and about five system calls per token, more than
// rendering and writing the token. Only while nothing of this sink waits on the strand, so
// events keep their order.
template <class Connection>
class strand_sink final : public event_sink,
                          public std::enable_shared_from_this<strand_sink<Connection>> {
 public:
  // `replay`: the sink is attached to an existing session, whose log replay arrives as one
  // burst before attached(). That burst is not a slow client (its events are the log's,
  // already in memory), so the limit applies only to the live events after it.
  strand_sink(std::weak_ptr<Connection> conn, std::shared_ptr<post_gate> gate, std::size_t limit,
              const char* transport, bool replay = false)
      : conn_(std::move(conn)),
        gate_(std::move(gate)),
        limit_(limit),
        transport_(transport),
        replaying_(replay) {}

  bool deliver(const event_ptr& ev) override {
    if constexpr (Connection::writes_inline) {
      if (queued_.load(std::memory_order_acquire) == 0 &&
          !replaying_.load(std::memory_order_relaxed)) {
        auto outcome = inline_delivery::busy;
        gate_->run([&] {
          if (auto c = conn_.lock()) outcome = c->deliver_now(this, ev);
          return true;
        });
        if (outcome == inline_delivery::written) return true;
        if (outcome == inline_delivery::too_slow) return false;
      }
    }
    auto size = ev->text.size() + 64;
    if (queued_.fetch_add(size, std::memory_order_relaxed) + size > limit_ &&
        !replaying_.load(std::memory_order_relaxed)) {
      queued_.fetch_sub(size, std::memory_order_relaxed);
      return false;
    }
    bool posted = post([self = this->shared_from_this(), ev, size] {
      if (auto c = self->conn_.lock()) c->on_event(self.get(), ev);
      // Only now: until this event is handled, a later one must queue behind it.
      self->queued_.fetch_sub(size, std::memory_order_release);
    });
    if (!posted) queued_.fetch_sub(size, std::memory_order_relaxed);  // the server is gone
    return true;
  }

  void attached(std::uint64_t last_seq, bool ended) override {
    replaying_.store(false, std::memory_order_relaxed);
    post([self = this->shared_from_this(), last_seq, ended] {
      if (auto conn = self->conn_.lock()) conn->on_attached(self.get(), last_seq, ended);
    });
  }

  void detached(detach_reason why) override {
    post([self = this->shared_from_this(), why] {
      if (auto conn = self->conn_.lock()) conn->on_detached(self.get(), why);
    });
  }

  const char* transport() const override { return transport_; }

 private:
  std::weak_ptr<Connection> conn_;
  // Onto the connection's strand, while both the connection and the server exist. The sink
  // keeps no executor of its own: it may outlive the io_context (in a CAF mailbox).
  template <class Handler>
  bool post(Handler&& handler) {
    return gate_->run([&] {
      auto c = conn_.lock();
      if (!c) return false;
      boost::asio::post(c->executor(), std::forward<Handler>(handler));
      return true;
    });
  }

  std::shared_ptr<post_gate> gate_;
  std::size_t limit_;
  const char* transport_;
  std::atomic<std::size_t> queued_{0};
  std::atomic<bool> replaying_;
};

}  // namespace streamgate
