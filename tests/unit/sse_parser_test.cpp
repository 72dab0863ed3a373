// The incremental SSE parser: every case is fed whole, byte by byte, and split at every
// pair of positions, since the network may cut a stream anywhere (mid-line, mid-"\r\n",
// mid-UTF-8 sequence) and the events must come out the same.

#include "providers/http/sse_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace streamgate {

// For GoogleTest's messages; found by ADL, so it lives in the type's namespace.
std::ostream& operator<<(std::ostream& os, const sse_event& e) {
  return os << "{event=" << e.event << " data=" << e.data << " id=" << e.id << " meta=" << e.meta
            << "}";
}

namespace {

struct expected_event {
  std::string event, data, id, meta;
};

bool operator==(const sse_event& a, const expected_event& b) {
  return a.event == b.event && a.data == b.data && a.id == b.id && a.meta == b.meta;
}

std::vector<sse_event> parse_pieces(const std::vector<std::string>& pieces, bool end = false,
                                    bool* ok = nullptr, std::size_t bound = 1 << 20) {
  sse_parser p{bound};
  std::vector<sse_event> out;
  bool all_ok = true;
  for (auto& piece : pieces)
    all_ok = p.feed(piece, [&](sse_event& e) { out.push_back(e); }) && all_ok;
  if (end) p.end([&](sse_event& e) { out.push_back(e); });
  if (ok) *ok = all_ok;
  return out;
}

void expect_events(const std::vector<sse_event>& got, const std::vector<expected_event>& want,
                   const std::string& how) {
  ASSERT_EQ(got.size(), want.size()) << how;
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_TRUE(got[i] == want[i]) << how << ": " << got[i];
}

// Feeds `input` in every way it could be cut into three pieces, and byte by byte.
void check_every_split(const std::string& input, const std::vector<expected_event>& want,
                       bool end = false) {
  expect_events(parse_pieces({input}, end), want, "whole");
  std::vector<std::string> bytes;
  for (char c : input) bytes.emplace_back(1, c);
  expect_events(parse_pieces(bytes, end), want, "byte by byte");
  for (std::size_t i = 0; i <= input.size(); ++i) {
    for (std::size_t j = i; j <= input.size(); ++j) {
      auto got = parse_pieces({input.substr(0, i), input.substr(i, j - i), input.substr(j)}, end);
      expect_events(got, want, "split at " + std::to_string(i) + "," + std::to_string(j));
      if (::testing::Test::HasFailure()) return;  // one report per case is enough
    }
  }
}

TEST(sse_parser, one_event_lf) {
  check_every_split("data: hello\n\n", {{"", "hello", "", ""}});
}

TEST(sse_parser, crlf_line_ends) {
  check_every_split("data: a\r\n\r\ndata: b\r\n\r\n", {{"", "a", "", ""}, {"", "b", "", ""}});
}

TEST(sse_parser, bare_cr_line_ends) {
  check_every_split("data: a\r\rdata: b\r\r", {{"", "a", "", ""}, {"", "b", "", ""}});
}

TEST(sse_parser, mixed_line_ends) {
  check_every_split("data: a\r\ndata: b\n\r\ndata: c\r\r",
                    {{"", "a\nb", "", ""}, {"", "c", "", ""}});
}

TEST(sse_parser, comments_are_skipped) {
  check_every_split(": keep-alive\n\n:\n\ndata: x\n: inside\n\n", {{"", "x", "", ""}});
}

TEST(sse_parser, multi_line_data_is_joined_with_newlines) {
  check_every_split("data: first\ndata: second\ndata:\ndata: fourth\n\n",
                    {{"", "first\nsecond\n\nfourth", "", ""}});
}

TEST(sse_parser, event_and_id_fields) {
  check_every_split(
      "event: add\nid: 7\ndata: t\n\nevent: finish\nid: 8\ndata: \nmeta: {\"u\":1}\n\n",
      {{"add", "t", "7", ""}, {"finish", "", "8", "{\"u\":1}"}});
}

TEST(sse_parser, only_one_leading_space_is_stripped) {
  check_every_split("data:x\n\ndata:  y\n\n", {{"", "x", "", ""}, {"", " y", "", ""}});
}

TEST(sse_parser, field_without_colon_counts_with_empty_value) {
  check_every_split("data\n\n", {{"", "", "", ""}});
}

TEST(sse_parser, event_without_data_is_dropped) {
  check_every_split("event: ping\nid: 3\n\ndata: real\n\n", {{"", "real", "", ""}});
}

TEST(sse_parser, unknown_fields_and_retry_are_ignored) {
  check_every_split("retry: 100\nfoo: bar\ndata: y\n\n", {{"", "y", "", ""}});
}

TEST(sse_parser, done_marker_is_plain_data) {
  check_every_split("data: {\"a\":1}\n\ndata: [DONE]\n\n",
                    {{"", "{\"a\":1}", "", ""}, {"", "[DONE]", "", ""}});
}

TEST(sse_parser, utf8_split_inside_a_sequence_is_reassembled) {
  // "你好" and an emoji: 3- and 4-byte sequences, cut at every byte by check_every_split.
  check_every_split("data: \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80\n\n",
                    {{"", "\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80", "", ""}});
}

TEST(sse_parser, error_object_mid_stream_is_an_ordinary_event) {
  check_every_split(
      "data: {\"x\":1}\n\ndata: {\"error\":{\"message\":\"boom\"}}\n\n",
      {{"", "{\"x\":1}", "", ""}, {"", "{\"error\":{\"message\":\"boom\"}}", "", ""}});
}

TEST(sse_parser, an_unterminated_last_event_is_dispatched_at_end) {
  check_every_split("data: a\n\ndata: [DONE]", {{"", "a", "", ""}, {"", "[DONE]", "", ""}}, true);
  check_every_split("data: [DONE]\n", {{"", "[DONE]", "", ""}}, true);
}

TEST(sse_parser, an_unterminated_event_is_held_until_end) {
  check_every_split("data: a\n\ndata: partial", {{"", "a", "", ""}});
}

TEST(sse_parser, a_line_over_the_bound_fails_and_stays_failed) {
  std::string input = "data: " + std::string(100, 'x') + "\n\n";
  for (std::size_t i = 0; i <= input.size(); ++i) {
    bool ok = true;
    auto got =
        parse_pieces({input.substr(0, i), input.substr(i), "data: later\n\n"}, true, &ok, 64);
    EXPECT_FALSE(ok) << "split at " << i;
    EXPECT_TRUE(got.empty()) << "split at " << i;
  }
}

TEST(sse_parser, an_event_of_many_lines_over_the_bound_fails) {
  std::string input;
  for (int i = 0; i < 20; ++i) input += "data: 0123456789\n";
  bool ok = true;
  parse_pieces({input}, false, &ok, 128);
  EXPECT_FALSE(ok);
}

TEST(sse_parser, keep_alive_comments_never_add_up_to_the_bound) {
  std::string input;
  for (int i = 0; i < 1000; ++i) input += ": keep-alive\n";
  input += "data: ok\n\n";
  bool ok = false;
  auto got = parse_pieces({input}, false, &ok, 64);
  EXPECT_TRUE(ok);
  expect_events(got, {{"", "ok", "", ""}}, "comments");
}

TEST(sse_parser, events_under_the_bound_keep_flowing) {
  std::string input;
  for (int i = 0; i < 100; ++i) input += "data: " + std::string(50, 'y') + "\n\n";
  bool ok = false;
  auto got = parse_pieces({input}, false, &ok, 64);
  EXPECT_TRUE(ok);
  EXPECT_EQ(got.size(), 100u);
}

}  // namespace
}  // namespace streamgate
