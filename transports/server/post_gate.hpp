#pragma once

#include <atomic>
#include <thread>

namespace streamgate {

// Lets actor threads post onto the server's io_context only while it exists. Sessions may
// outlive the server (at shutdown, or an embedding application's order of destruction);
// once the server closes the gate, their events are dropped instead of being posted into
// a destroyed io_context.
class post_gate {
 public:
  // Runs `fn` (which posts onto the io_context) unless the gate is closed; returns what
  // `fn` returned, or false when closed.
  template <class Fn>
  bool run(Fn&& fn) {
    in_flight_.fetch_add(1);
    bool done = !closed_.load() && fn();
    in_flight_.fetch_sub(1);
    return done;
  }

  // After this returns, no post is under way and none will start.
  void close() {
    closed_.store(true);
    while (in_flight_.load() != 0) std::this_thread::yield();
  }

 private:
  std::atomic<bool> closed_{false};
  std::atomic<int> in_flight_{0};
};

}  // namespace streamgate
