// End to end: a client streams over SSE from streamgate, whose HTTP provider streams from the
// fake upstream over real loopback HTTP.

#include "tests/integration/upstream_fixture.hpp"
#include "tools/fake_upstream/behaviour.hpp"

#include <gtest/gtest.h>

namespace streamgate::test {
namespace {

TEST(upstream_stream, streams_the_upstream_answer_end_to_end) {
  upstream_fixture f{{{"fake", "fake@chunks=20,chunk_size=12"}}};
  auto r = f.stream("fake");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.text, fake::full_text(20, 12));
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.terminal_events, 1);
  EXPECT_TRUE(f.settled());
  auto stats = f.upstream_stats();
  EXPECT_EQ(stats["streams_completed"], 1);
  EXPECT_EQ(stats["client_aborts"], 0);
}

}  // namespace
}  // namespace streamgate::test
