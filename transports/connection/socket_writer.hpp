#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <string>
#include <utility>

namespace streamgate {

// The outgoing bytes of a client connection whose tokens may be written from the thread that
// delivers them (http_connection, ws_connection). What the socket takes at once goes with
// one non-blocking send and needs no completion; the rest moves in flight and goes with one
// async write, which only the connection's strand may start. While it is under way, new
// bytes wait in the connection's buffer and follow when it completes.
// Not thread-safe: the connection's mutex guards it.
class socket_writer {
 public:
  enum class outcome {
    idle,     // all sent, or an async write is under way and the bytes wait for it
    started,  // bytes remain in flight: the caller starts write_rest() on its strand
    failed,   // the socket failed: the caller closes the connection
  };

  // Sends what the socket takes of `pending` now, and erases that from `pending`.
  outcome send(boost::asio::ip::tcp::socket& socket, std::string& pending) {
    if (writing() || pending.empty()) return outcome::idle;
    boost::system::error_code ec;  // the socket is non-blocking: would_block, never a wait
    auto n = socket.send(boost::asio::buffer(pending), 0, ec);
    if (ec && ec != boost::asio::error::would_block) return outcome::failed;
    pending.erase(0, n);
    if (pending.empty()) return outcome::idle;
    in_flight_.swap(pending);  // `pending` takes the emptied buffer, and its capacity
    return outcome::started;
  }

  // Writes the bytes in flight; `done(ec, n)` must call finished() first.
  template <class AsyncStream, class Handler>
  void write_rest(AsyncStream& stream, Handler&& done) {
    boost::asio::async_write(stream, boost::asio::buffer(in_flight_), std::forward<Handler>(done));
  }
  void finished() { in_flight_.clear(); }

  // An async write is under way exactly while bytes are in flight.
  bool writing() const { return !in_flight_.empty(); }
  std::size_t in_flight() const { return in_flight_.size(); }

 private:
  std::string in_flight_;
};

}  // namespace streamgate
