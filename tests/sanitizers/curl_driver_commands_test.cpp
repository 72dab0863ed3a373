// The curl driver's command queue across threads: several threads start and cancel
// transfers at once while the driver streams others, on its own thread and on an
// io_context run by two threads. ThreadSanitizer (make test-tsan) sees the queue's hand-over
// here; the assertions are the driver's rules: a transfer left alone delivers its whole
// answer and one terminal event, a cancelled one delivers nothing after a terminal event.

#include "providers/http/curl_driver.hpp"
#include "tests/sanitizers/curl_driver_outcomes.hpp"
#include "tools/fake_upstream/fake_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <string>
#include <thread>
#include <vector>

namespace streamgate::test {
namespace {

constexpr int threads = 4;
constexpr int per_thread = 10;  // half of them are cancelled at once
constexpr std::uint32_t chunks = 40;

void start_and_cancel_from_many_threads(transfer_runner& driver, std::uint16_t port) {
  auto model = "fake@chunks=" + std::to_string(chunks) + ",chunk_size=8,interval_ms=1";

  constexpr int n = threads * per_thread;
  outcomes out(n);
  std::vector<std::thread> callers;
  for (int t = 0; t < threads; ++t) {
    callers.emplace_back([&, t] {
      for (int k = 0; k < per_thread; ++k) {
        auto i = static_cast<std::size_t>(t * per_thread + k);
        auto id = driver.start(fake_request(port, model), out.for_transfer(i));
        if (k % 2 == 1) driver.cancel(id);
      }
    });
  }
  for (auto& c : callers) c.join();

  // Every transfer left alone ends; a cancelled one may have ended before its cancel ran.
  ASSERT_TRUE(out.await([&] {
    for (int i = 0; i < n; ++i)
      if (i % 2 == 0 && out.terminals[i] == 0) return false;
    return true;
  }));
  std::lock_guard<std::mutex> lock{out.mu};
  auto whole = fake::full_text(chunks, 8);
  for (int i = 0; i < n; ++i) {
    EXPECT_LE(out.terminals[i], 1) << i;
    EXPECT_EQ(out.after_terminal[i], 0) << i;
    if (i % 2 == 0) {
      EXPECT_EQ(out.last[i], event_kind::finish) << i;
      EXPECT_EQ(out.text[i], whole) << i;
    }
  }
}

class curl_driver_commands : public ::testing::Test {
 protected:
  void SetUp() override { upstream.start(); }
  fake::fake_server upstream{fake::server_options{}};
};

TEST_F(curl_driver_commands, on_its_own_thread) {
  curl_driver driver;
  start_and_cancel_from_many_threads(driver, upstream.port());
}

TEST_F(curl_driver_commands, on_an_io_context_run_by_two_threads) {
  auto io = std::make_shared<boost::asio::io_context>();
  auto work = boost::asio::make_work_guard(*io);
  std::vector<std::thread> io_threads;
  for (int i = 0; i < 2; ++i) io_threads.emplace_back([io] { io->run(); });
  {
    curl_driver driver{io};
    start_and_cancel_from_many_threads(driver, upstream.port());
  }
  work.reset();
  for (auto& t : io_threads) t.join();
}

}  // namespace
}  // namespace streamgate::test
