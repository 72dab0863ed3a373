#pragma once

#include "actors/event_sink.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <memory>

namespace streamgate {

// A sink that moves a session's events onto a connection's strand. `Connection` provides
// on_event / on_attached / on_detached, all run on that strand. The only cross-thread state
// is a byte count, so a client that stops reading is noticed without a lock.
template <class Connection>
class strand_sink final : public event_sink,
                          public std::enable_shared_from_this<strand_sink<Connection>> {
 public:
  strand_sink(std::weak_ptr<Connection> conn, boost::asio::any_io_executor ex, std::size_t limit,
              const char* transport)
      : conn_(std::move(conn)), ex_(std::move(ex)), limit_(limit), transport_(transport) {}

  bool deliver(const event_ptr& ev) override {
    auto size = ev->text.size() + 64;
    if (queued_.fetch_add(size, std::memory_order_relaxed) + size > limit_) {
      queued_.fetch_sub(size, std::memory_order_relaxed);
      return false;
    }
    boost::asio::post(ex_, [self = this->shared_from_this(), ev, size] {
      self->queued_.fetch_sub(size, std::memory_order_relaxed);
      if (auto c = self->conn_.lock()) c->on_event(ev);
    });
    return true;
  }

  void attached(std::uint64_t last_seq, bool ended) override {
    boost::asio::post(ex_, [c = conn_, last_seq, ended] {
      if (auto conn = c.lock()) conn->on_attached(last_seq, ended);
    });
  }

  void detached(detach_reason why) override {
    boost::asio::post(ex_, [c = conn_, why] {
      if (auto conn = c.lock()) conn->on_detached(why);
    });
  }

  const char* transport() const override { return transport_; }

 private:
  std::weak_ptr<Connection> conn_;
  boost::asio::any_io_executor ex_;
  std::size_t limit_;
  const char* transport_;
  std::atomic<std::size_t> queued_{0};
};

}  // namespace streamgate
