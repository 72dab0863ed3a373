// wire_event: a stream_event as it crosses nodes. Every kind goes out and comes back with all
// its members, with and without delta fields; a kind this node does not know comes back null.

#include "cluster/wire_event.hpp"

#include <gtest/gtest.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace streamgate {
namespace {

const std::vector<event_kind> every_kind{event_kind::delta,     event_kind::usage,
                                         event_kind::finish,    event_kind::error,
                                         event_kind::cancelled, event_kind::heartbeat};

// An event with every member set to something other than its default.
stream_event full_event(event_kind kind, bool with_fields) {
  stream_event e;
  e.seq = 0x1122334455667788ull;
  e.kind = kind;
  e.text = std::string{"h\xc3\xa9llo\n\0world", 13};
  e.code = "upstream_rate_limited";
  e.usage = {123456, 4000000000u};
  e.retry_after_s = 42;
  e.choice = 3;
  if (with_fields) {
    auto f = std::make_shared<delta_fields>();
    f->delta = R"("tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}])";
    f->choice = R"("logprobs":null)";
    f->chunk = R"("system_fingerprint":"fp_1")";
    f->finish_reason = "tool_calls";
    e.fields = std::move(f);
  }
  return e;
}

void expect_same(const stream_event& a, const stream_event& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.code, b.code);
  EXPECT_EQ(a.usage.prompt_tokens, b.usage.prompt_tokens);
  EXPECT_EQ(a.usage.completion_tokens, b.usage.completion_tokens);
  EXPECT_EQ(a.retry_after_s, b.retry_after_s);
  EXPECT_EQ(a.choice, b.choice);
  ASSERT_EQ(a.fields == nullptr, b.fields == nullptr);
  if (a.fields) {
    EXPECT_TRUE(*a.fields == *b.fields);
  }
}

TEST(wire_event, every_kind_round_trips_with_and_without_fields) {
  for (auto kind : every_kind) {
    for (bool with_fields : {false, true}) {
      SCOPED_TRACE(std::string{to_string(kind)} + (with_fields ? " with fields" : " plain"));
      auto original = full_event(kind, with_fields);
      auto w = to_wire(original);
      EXPECT_EQ(w.kind, static_cast<std::uint8_t>(kind));
      EXPECT_EQ(w.has_fields, with_fields);
      auto back = from_wire(w);
      ASSERT_NE(back, nullptr);
      expect_same(original, *back);
    }
  }
}

TEST(wire_event, default_events_round_trip) {
  for (auto kind : every_kind) {
    stream_event e;
    e.kind = kind;
    auto back = from_wire(to_wire(e));
    ASSERT_NE(back, nullptr) << to_string(kind);
    expect_same(e, *back);
  }
}

TEST(wire_event, empty_fields_are_kept_apart_from_no_fields) {
  // A choice's bare end: fields whose only member is the finish_reason; and fields that are
  // all empty (still not the same as plain text for the transports).
  auto end = stream_event::make_choice_end(2, "stop");
  auto back = from_wire(to_wire(end));
  ASSERT_NE(back, nullptr);
  expect_same(end, *back);
  EXPECT_EQ(finish_reason_of(back->fields.get()), "stop");

  stream_event empty;
  empty.fields = std::make_shared<delta_fields>();
  back = from_wire(to_wire(empty));
  ASSERT_NE(back, nullptr);
  ASSERT_NE(back->fields, nullptr);
  EXPECT_TRUE(*back->fields == delta_fields{});
}

TEST(wire_event, the_events_do_not_share_their_fields) {
  auto original = full_event(event_kind::delta, true);
  auto back = from_wire(to_wire(original));
  ASSERT_NE(back, nullptr);
  EXPECT_NE(back->fields.get(), original.fields.get());
}

TEST(wire_event, an_unknown_kind_gives_null) {
  auto w = to_wire(full_event(event_kind::delta, true));
  for (std::uint8_t kind :
       {std::uint8_t{6}, std::uint8_t{7}, std::uint8_t{200}, std::uint8_t{255}}) {
    w.kind = kind;
    EXPECT_EQ(from_wire(w), nullptr) << int{kind};
  }
  // The last known kind is still known.
  w.kind = static_cast<std::uint8_t>(event_kind::heartbeat);
  EXPECT_NE(from_wire(w), nullptr);
}

TEST(wire_event, survives_caf_serialization) {
  // What crosses BASP: inspect() must cover every member, in a stable order.
  for (auto kind : every_kind) {
    for (bool with_fields : {false, true}) {
      SCOPED_TRACE(std::string{to_string(kind)} + (with_fields ? " with fields" : " plain"));
      auto original = full_event(kind, with_fields);
      auto w = to_wire(original);
      std::vector<char> buf;
      caf::binary_serializer sink{nullptr, buf};
      ASSERT_FALSE(sink(w));
      wire_event read;
      caf::binary_deserializer source{nullptr, buf};
      ASSERT_FALSE(source(read));
      auto back = from_wire(read);
      ASSERT_NE(back, nullptr);
      expect_same(original, *back);
    }
  }
}

}  // namespace
}  // namespace streamgate
