// stream_group: a provider's streams end with it, as linked ones did, while a stream's own
// end costs the provider nothing but a hash erase.

#include "providers/stream_group.hpp"
#include "tests/support/test_coordinator_fixture.hpp"

#include <map>

namespace streamgate {
namespace {

// A provider that spawns an idle stream per `int` message and puts it in its group.
caf::behavior provider(caf::event_based_actor* self, std::shared_ptr<stream_group>* group,
                       std::vector<caf::actor>* streams) {
  *group = stream_group::of(self);
  return {
      [=](int) {
        auto s = self->spawn([]() -> caf::behavior { return {[](int) {}}; });
        (*group)->join(caf::actor_cast<caf::strong_actor_ptr>(s));
        streams->push_back(s);
      },
  };
}

// Records why each actor it watches went down.
caf::behavior watcher(caf::event_based_actor* self, std::map<caf::actor_addr, caf::error>* downs) {
  self->set_down_handler([downs](caf::down_msg& m) { (*downs)[m.source] = m.reason; });
  return {[self](caf::actor& a) { self->monitor(a); }};
}

class stream_group_test : public test::coordinator_fixture {
 protected:
  stream_group_test() {
    prov = keep(sys->spawn(provider, &group, &streams));
    watch = keep(sys->spawn(watcher, &downs));
    for (int i = 0; i < 4; ++i) caf::anon_send(prov, 1);
    sched->run();
    for (auto& s : streams) caf::anon_send(watch, s);
    caf::anon_send(watch, prov);
    sched->run();
  }

  // Before the members the watcher writes into are gone (the base's shutdown runs later).
  ~stream_group_test() override {
    for (auto& a : streams) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(prov, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(watch, caf::exit_reason::user_shutdown);
    sched->run();
  }

  bool down(const caf::actor& a) const { return downs.count(a.address()) > 0; }

  std::shared_ptr<stream_group> group;
  std::vector<caf::actor> streams;
  std::map<caf::actor_addr, caf::error> downs;
  caf::actor prov;
  caf::actor watch;
};

TEST_F(stream_group_test, a_stream_that_ends_leaves_the_group) {
  ASSERT_EQ(group->size(), 4u);
  caf::anon_send_exit(streams[0], caf::exit_reason::user_shutdown);
  caf::anon_send_exit(streams[1], caf::exit_reason::kill);
  sched->run();
  EXPECT_EQ(group->size(), 2u);
  EXPECT_FALSE(down(prov));  // unlike a link, a stream's failure is its own
}

TEST_F(stream_group_test, a_provider_crash_ends_its_streams_with_its_reason) {
  caf::anon_send_exit(streams[0], caf::exit_reason::user_shutdown);
  sched->run();
  caf::anon_send_exit(prov, caf::exit_reason::unhandled_exception);
  sched->run();
  EXPECT_EQ(group->size(), 0u);
  for (std::size_t i = 1; i < streams.size(); ++i) {
    ASSERT_TRUE(down(streams[i])) << i;
    EXPECT_EQ(downs[streams[i].address()], caf::exit_reason::unhandled_exception) << i;
  }
  EXPECT_EQ(downs[streams[0].address()], caf::exit_reason::user_shutdown);
}

TEST_F(stream_group_test, a_provider_that_quits_normally_leaves_its_streams_be) {
  sys->spawn([this](caf::event_based_actor* self) {  // a provider that quits on its own
    auto group = stream_group::of(self);
    auto s = self->spawn([]() -> caf::behavior { return {[](int) {}}; });
    group->join(caf::actor_cast<caf::strong_actor_ptr>(s));
    streams.push_back(s);
    caf::anon_send(watch, s);
    self->quit();
  });
  sched->run();
  EXPECT_FALSE(down(streams.back()));
  caf::anon_send_exit(streams.back(), caf::exit_reason::user_shutdown);
  sched->run();
}

TEST_F(stream_group_test, a_stream_joining_after_its_provider_ended_ends_at_once) {
  auto g = group;
  caf::anon_send_exit(prov, caf::exit_reason::unhandled_exception);
  sched->run();
  auto late = sys->spawn([]() -> caf::behavior { return {[](int) {}}; });
  caf::anon_send(watch, late);
  sched->run();
  g->join(caf::actor_cast<caf::strong_actor_ptr>(late));
  sched->run();
  ASSERT_TRUE(down(late));
  EXPECT_EQ(downs[late.address()], caf::exit_reason::unhandled_exception);
  EXPECT_EQ(g->size(), 0u);
}

}  // namespace
}  // namespace streamgate
