#pragma once

#include "transports/connection/socket_writer.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <mutex>
#include <string>

namespace streamgate {

// What both streaming connection types (http_connection, ws_connection) are built on, written
// once: a mutex held by every handler on the connection's strand and tried by a session's
// delivering thread (deliver_now), and the outgoing bytes, sent at once from whichever thread
// holds it, the rest by one async write on the strand, bounded by write_timeout.
//
// `Derived` (a friend) provides:
//   executor(), socket()        the strand and the client's socket
//   gone()                      closed, or handed over: handlers do nothing more
//   on_write_failed()           the socket failed (or timed out): close
//   on_write_timeout()          the client took none of a write for write_timeout: count it
//   on_written()                the write under way completed: flush what followed it
// and derives from std::enable_shared_from_this<Derived>.
template <class Derived>
class guarded_connection {
 protected:
  explicit guarded_connection(const boost::asio::any_io_executor& ex) : write_deadline_(ex) {}

  std::unique_lock<std::mutex> guard() { return std::unique_lock<std::mutex>(mu_); }
  // The delivering thread's turn: granted only while no handler runs.
  std::unique_lock<std::mutex> try_guard() {
    return std::unique_lock<std::mutex>(mu_, std::try_to_lock);
  }

  // Runs `fn(connection)` on the strand, under the guard.
  template <class Fn>
  void post_guarded(Fn fn) {
    auto& self = derived();
    boost::asio::post(self.executor(),
                      [self = self.shared_from_this(), fn = std::move(fn)]() mutable {
                        auto lk = self->guard();
                        fn(*self);
                      });
  }

  // Hands `pending` to the socket: what it takes at once leaves now with one send; the rest
  // goes by an async write, which only the strand may start (from another thread it is
  // posted there, as is closing a failed socket). True when the bytes need nothing more of
  // the strand: all sent, or queued behind a write under way.
  bool send_pending(std::string& pending, bool on_strand) {
    switch (writer_.send(derived().socket(), pending)) {
      case socket_writer::outcome::failed:
        if (on_strand)
          derived().on_write_failed();
        else
          post_guarded([](Derived& c) { c.on_write_failed(); });
        return false;
      case socket_writer::outcome::started:
        if (on_strand)
          write_in_flight();
        else
          post_guarded([](Derived& c) { c.write_in_flight(); });
        return false;
      case socket_writer::outcome::idle:
        break;
    }
    return true;
  }

  // On the strand: writes the bytes in flight. A client that takes none of them for
  // `write_timeout` is not reading at all and is dropped, so its socket does not outlive its
  // sessions.
  void write_in_flight() {
    if (derived().gone()) return;
    if (write_timeout_.count() > 0) {
      write_deadline_.expires_after(write_timeout_);
      write_deadline_.async_wait(
          [self = derived().shared_from_this()](boost::system::error_code ec) {
            auto lk = self->guard();
            auto& c = static_cast<guarded_connection&>(*self);
            // The write completed, and perhaps a later one re-armed the timer: a stale expiry.
            if (ec || self->gone() || !c.writer_.writing() ||
                c.write_deadline_.expiry() > std::chrono::steady_clock::now())
              return;
            self->on_write_timeout();
            self->on_write_failed();
          });
    }
    writer_.write_rest(derived().socket(), [self = derived().shared_from_this()](
                                               boost::system::error_code ec, std::size_t) {
      auto lk = self->guard();
      auto& c = static_cast<guarded_connection&>(*self);
      c.writer_.finished();
      c.write_deadline_.cancel();
      if (self->gone()) return;
      if (ec) {
        self->on_write_failed();
        return;
      }
      self->on_written();
    });
  }

  // Bytes handed to the socket writer and not yet taken by the socket.
  std::size_t in_flight() const { return writer_.in_flight(); }
  bool writing() const { return writer_.writing(); }
  void set_write_timeout(std::chrono::milliseconds t) { write_timeout_ = t; }
  void cancel_write_deadline() { write_deadline_.cancel(); }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }

  std::mutex mu_;  // held by every handler, and by deliver_now when it gets it
  socket_writer writer_;
  std::chrono::milliseconds write_timeout_{0};
  boost::asio::steady_timer write_deadline_;  // the write under way must complete by then
};

}  // namespace streamgate
