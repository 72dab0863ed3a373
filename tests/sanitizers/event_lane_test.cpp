// The event lane across threads, as in production: an upstream thread appends a stream's
// deltas itself while the session's thread attaches and detaches clients, closes the lane and
// ends the log. ThreadSanitizer (make test-tsan) sees the lane's locking here without CAF in
// between; the assertions are the lane's rules: every client sees the log's order with no
// gap or repeat, and nothing of the attempt gets in after close_lane().

#include "actors/event_log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace streamgate {
namespace {

// Delivered to from both threads, one at a time (the log's mutex), read from the test's.
class locked_sink : public event_sink {
 public:
  bool deliver(const event_ptr& ev) override {
    std::lock_guard<std::mutex> lock{mu_};
    seqs_.push_back(ev->seq);
    return true;
  }
  const char* transport() const override { return "test"; }

  std::vector<std::uint64_t> seqs() const {
    std::lock_guard<std::mutex> lock{mu_};
    return seqs_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::uint64_t> seqs_;
};

// Sequence numbers `from`, `from + 1`, ... with no gap and no repeat.
void expect_consecutive(const std::vector<std::uint64_t>& seqs, std::uint64_t from) {
  for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], from + i) << "at " << i;
}

TEST(event_lane, upstream_and_session_threads_keep_one_order) {
  auto first = std::make_shared<locked_sink>();
  std::atomic<int> first_delta_calls{0};
  event_log::options o;
  o.first_sink = first;
  o.started_at = event_log::clock::now();
  o.now = [] { return event_log::clock::now(); };
  o.first_delta = [&](std::uint32_t) { ++first_delta_calls; };
  event_log log{std::move(o)};
  log.open_lane(1);

  std::atomic<std::uint64_t> accepted{0};
  std::thread upstream([&] {
    while (log.append_from_upstream(1, stream_event::make_delta("tok "))) ++accepted;
  });

  // Clients come and go while tokens stream; half of them stay to the end.
  struct late_client {
    std::shared_ptr<locked_sink> sink;
    std::uint64_t after;
    bool stays;
  };
  std::vector<late_client> late;
  for (int i = 0; i < 40; ++i) {
    while (accepted.load() < static_cast<std::uint64_t>(50 * (i + 1))) std::this_thread::yield();
    late_client c{std::make_shared<locked_sink>(), log.size() / 2, i % 2 == 0};
    EXPECT_TRUE(log.attach(c.sink, c.after));
    if (!c.stays) log.detach(c.sink);
    late.push_back(c);
  }
  // A stale attempt's upstream is refused while the current one streams.
  EXPECT_FALSE(log.append_from_upstream(2, stream_event::make_delta("stale")));

  log.close_lane();
  auto ended = log.append(stream_event::make_finish("stop"));
  upstream.join();

  EXPECT_TRUE(ended.logged);
  EXPECT_EQ(first_delta_calls.load(), 1);
  EXPECT_EQ(log.size(), accepted.load() + 1);
  ASSERT_TRUE(log.last());
  EXPECT_EQ(log.last()->kind, event_kind::finish);
  EXPECT_FALSE(log.append_from_upstream(1, stream_event::make_delta("late")));

  auto all = first->seqs();
  EXPECT_EQ(all.size(), log.size());
  expect_consecutive(all, 1);
  for (auto& c : late) {
    auto seqs = c.sink->seqs();
    expect_consecutive(seqs, c.after + 1);
    if (c.stays) {
      EXPECT_EQ(seqs.size(), log.size() - c.after);
    }
  }
}

}  // namespace
}  // namespace streamgate
