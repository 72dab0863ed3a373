// The curl driver pool over loops (io_contexts, one thread each, as http_server runs them): a
// transfer with a loop streams on that loop's thread, one without still goes round-robin, and a
// cancel finds the driver a loop put its transfer on and closes its upstream connection there.

#include "providers/http/curl_driver_pool.hpp"
#include "tests/sanitizers/curl_driver_outcomes.hpp"
#include "tests/support/eventually.hpp"
#include "tools/fake_upstream/fake_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace streamgate::test {
namespace {

namespace net = boost::asio;

// io_contexts each run by a thread of its own until this is destroyed.
class running_loops {
 public:
  explicit running_loops(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      auto io = std::make_shared<net::io_context>();
      guards_.push_back(net::make_work_guard(*io));
      threads_.emplace_back([io] { io->run(); });
      contexts_.push_back(std::move(io));
    }
  }
  ~running_loops() {
    for (auto& g : guards_) g.reset();
    for (auto& t : threads_) t.join();
  }
  running_loops(const running_loops&) = delete;
  running_loops& operator=(const running_loops&) = delete;

  const std::vector<std::shared_ptr<net::io_context>>& contexts() const { return contexts_; }
  std::thread::id thread_of(std::size_t loop) const { return threads_[loop].get_id(); }

 private:
  std::vector<std::shared_ptr<net::io_context>> contexts_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

constexpr std::uint32_t chunks = 5;
const std::string short_answer = "fake@chunks=5,chunk_size=8";
const std::string endless = "fake@chunks=100000,interval_ms=5";

upstream_request on_loop(upstream_request r, int loop) {
  r.io_loop = loop;
  return r;
}

class curl_driver_pool_loops : public ::testing::Test {
 protected:
  void SetUp() override { upstream.start(); }

  // Starts a transfer of `model` on `loop` as transfer `i` of `out`.
  transfer_id start(outcomes& out, std::size_t i, const std::string& model, int loop) {
    return pool.start(on_loop(fake_request(upstream.port(), model), loop), out.for_transfer(i));
  }

  fake::fake_server upstream{fake::server_options{}};
  running_loops loops{2};
  curl_driver_pool pool{loops.contexts()};  // stopped before the loops' threads
};

TEST_F(curl_driver_pool_loops, a_transfer_streams_on_its_loops_thread) {
  outcomes out(3);
  start(out, 0, short_answer, 1);
  start(out, 1, short_answer, 0);
  start(out, 2, short_answer, 3);  // loops beyond the pool's wrap around
  ASSERT_TRUE(out.await([&] { return out.ended == 3; }));
  std::lock_guard<std::mutex> lock{out.mu};
  std::thread::id expected[] = {loops.thread_of(1), loops.thread_of(0), loops.thread_of(1)};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out.last[i], event_kind::finish) << i;
    EXPECT_EQ(out.text[i], fake::full_text(chunks, 8)) << i;
    EXPECT_EQ(out.thread[i], expected[i]) << i;
    EXPECT_EQ(out.other_threads[i], 0) << i;
  }
}

TEST_F(curl_driver_pool_loops, transfers_without_a_loop_complete_round_robin) {
  outcomes out(4);
  for (std::size_t i = 0; i < 4; ++i) start(out, i, short_answer, -1);
  ASSERT_TRUE(out.await([&] { return out.ended == 4; }));
  std::lock_guard<std::mutex> lock{out.mu};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(out.last[i], event_kind::finish) << i;
    EXPECT_EQ(out.text[i], fake::full_text(chunks, 8)) << i;
    EXPECT_EQ(out.thread[i], loops.thread_of(i % 2)) << i;
  }
}

// Two endless transfers, one per loop, whose drivers both gave out id 1: the cancel must reach
// the second loop's driver, end its transfer and close its connection, and leave the first's.
TEST_F(curl_driver_pool_loops, cancel_closes_a_loop_placed_transfers_upstream_connection) {
  outcomes out(2);
  auto id = start(out, 0, endless, 1);  // first: round-robin would put it on loop 0
  start(out, 1, endless, 0);
  ASSERT_TRUE(out.await([&] { return !out.text[0].empty() && !out.text[1].empty(); }));
  pool.cancel(id);
  // The fake upstream counts a client that left without telling anyone: no callback to await.
  EXPECT_TRUE(eventually([&] { return upstream.counters().client_aborts.load() == 1; },
                         std::chrono::seconds(10)));
  std::size_t received = 0;
  {
    std::lock_guard<std::mutex> lock{out.mu};
    EXPECT_EQ(out.terminals[0], 0);  // a cancelled transfer is dropped silently
    EXPECT_EQ(out.thread[0], loops.thread_of(1));
    received = out.text[1].size();
  }
  // The other loop's transfer goes on streaming.
  EXPECT_TRUE(out.await([&] { return out.text[1].size() > received && out.terminals[1] == 0; }));
  EXPECT_EQ(upstream.counters().client_aborts.load(), 1u);
}

TEST(curl_driver_pool, needs_at_least_one_loop) {
  EXPECT_THROW(curl_driver_pool{std::vector<std::shared_ptr<net::io_context>>{}},
               std::invalid_argument);
}

}  // namespace
}  // namespace streamgate::test
