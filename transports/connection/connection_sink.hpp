#pragma once

#include "transports/server/post_gate.hpp"

#include <streamgate/event_sink.hpp>

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
  // `replay`: the sink is attached to an existing session, whose log replay arrives before
  // attached(); until then nothing is written inline, so the replay keeps its place in front.
  // The replay is offered in parts (offer): this sink takes events while less than half of
  // `limit` of them waits on the strand, and the connection says when it may go on.
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
    auto size = cost(*ev);
    if (queued_.fetch_add(size, std::memory_order_relaxed) + size > limit_) {
      queued_.fetch_sub(size, std::memory_order_relaxed);
      return false;
    }
    post_event(ev, size);
    return true;
  }

  bool offer(const event_ptr& ev) override {
    // Always one: an event bigger than the share still moves (the connection bounds it).
    auto size = cost(*ev);
    auto before = queued_.load(std::memory_order_relaxed);
    if (before != 0 && before + size > limit_ / 2) return false;
    queued_.fetch_add(size, std::memory_order_relaxed);
    post_event(ev, size);
    return true;
  }

  void replay_paused(std::uint64_t last_seq) override {
    post([self = this->shared_from_this(), last_seq] {
      if (auto conn = self->conn_.lock()) conn->on_replay_paused(self.get(), last_seq);
    });
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

  // What an event waiting on the strand is reckoned to hold until it is written.
  static std::size_t cost(const stream_event& ev) { return ev.text.size() + 64; }

  void post_event(const event_ptr& ev, std::size_t size) {
    bool posted = post([self = this->shared_from_this(), ev, size] {
      if (auto c = self->conn_.lock()) c->on_event(self.get(), ev);
      // Only now: until this event is handled, a later one must queue behind it.
      self->queued_.fetch_sub(size, std::memory_order_release);
    });
    if (!posted) queued_.fetch_sub(size, std::memory_order_relaxed);  // the server is gone
  }

  std::shared_ptr<post_gate> gate_;
  std::size_t limit_;
  const char* transport_;
  std::atomic<std::size_t> queued_{0};
  std::atomic<bool> replaying_;
};

}  // namespace streamgate
