// The connection write path across threads: events offered by two delivering threads in
// turn (the session's and the lane's) reach a connection either inline, on the delivering
// thread, or posted to its strand, which two I/O threads run. ThreadSanitizer (make
// test-tsan) sees strand_sink's byte count and hand-over here; the assertion is its rule:
// the connection gets every event once, in the log's order, whichever way it came.

#include "transports/connection/connection_sink.hpp"

#include <gtest/gtest.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace streamgate {
namespace {

namespace net = boost::asio;

constexpr std::uint64_t total_events = 20000;

// Takes an event inline only when its strand is not busy (like http_connection, which
// try-locks the mutex its strand handlers hold), and then every third time at most, so both
// paths interleave.
class fake_connection {
 public:
  static constexpr bool writes_inline = true;

  explicit fake_connection(net::io_context& io) : strand_(net::make_strand(io)) {}

  net::any_io_executor executor() { return strand_; }

  inline_delivery deliver_now(const event_sink*, const event_ptr& ev) {
    std::unique_lock<std::mutex> lk(mu_, std::try_to_lock);
    if (!lk || ++offers_ % 3 == 0) return inline_delivery::busy;
    record(ev);
    return inline_delivery::written;
  }
  void on_event(const event_sink*, const event_ptr& ev) {
    std::lock_guard<std::mutex> lk(mu_);
    record(ev);
  }
  void on_attached(const event_sink*, std::uint64_t, bool) {}
  void on_detached(const event_sink*, detach_reason) {}
  void on_replay_paused(const event_sink*, std::uint64_t) {}

  std::vector<std::uint64_t> wait_for_all() {
    std::unique_lock<std::mutex> lk(mu_);
    all_in_.wait_for(lk, std::chrono::seconds(60), [&] { return seqs_.size() == total_events; });
    return seqs_;
  }

 private:
  void record(const event_ptr& ev) {
    seqs_.push_back(ev->seq);
    if (seqs_.size() == total_events) all_in_.notify_all();
  }

  net::strand<net::io_context::executor_type> strand_;
  std::mutex mu_;
  std::condition_variable all_in_;
  std::uint64_t offers_ = 0;
  std::vector<std::uint64_t> seqs_;
};

TEST(strand_sink, inline_and_posted_events_keep_their_order) {
  net::io_context io;
  auto work = net::make_work_guard(io);
  std::vector<std::thread> io_threads;
  for (int i = 0; i < 2; ++i) io_threads.emplace_back([&] { io.run(); });

  auto conn = std::make_shared<fake_connection>(io);
  auto gate = std::make_shared<post_gate>();
  auto sink = std::make_shared<strand_sink<fake_connection>>(conn, gate, 1 << 30, "test");

  // Two delivering threads take turns, as the session actor and the lane do under the log's
  // mutex; the sequence number is the log's.
  std::mutex log_mutex;
  std::uint64_t next_seq = 1;
  auto deliverer = [&] {
    for (;;) {
      std::lock_guard<std::mutex> lock{log_mutex};
      if (next_seq > total_events) return;
      auto ev = std::make_shared<stream_event>(stream_event::make_delta("tok "));
      ev->seq = next_seq++;
      ASSERT_TRUE(sink->deliver(ev));
    }
  };
  std::thread a{deliverer};
  std::thread b{deliverer};
  a.join();
  b.join();

  auto seqs = conn->wait_for_all();
  ASSERT_EQ(seqs.size(), total_events);
  for (std::uint64_t i = 0; i < total_events; ++i) ASSERT_EQ(seqs[i], i + 1);

  gate->close();
  work.reset();
  for (auto& t : io_threads) t.join();
}

}  // namespace
}  // namespace streamgate
