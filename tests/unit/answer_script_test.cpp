// The shared answer generator (providers/answer_script.hpp): the order and content of the
// pieces the mock provider and the fake upstream both send.

#include "providers/answer_script.hpp"
#include "providers/answer_request.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace streamgate {
namespace {

using json = nlohmann::json;

std::vector<answer_piece> all_pieces(const answer_options& o) {
  answer_script s{o};
  std::vector<answer_piece> out;
  answer_piece p;
  while (s.next(p)) out.push_back(p);
  EXPECT_TRUE(s.done());
  EXPECT_FALSE(s.next(p));
  return out;
}

TEST(answer_script, plain_text_is_content_tokens_then_stop) {
  answer_options o;
  o.content_tokens = 3;
  auto pieces = all_pieces(o);
  ASSERT_EQ(pieces.size(), 4u);
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(pieces[i].kind, piece_kind::content);
    EXPECT_EQ(pieces[i].text, answer_token(i));
  }
  EXPECT_EQ(pieces[3].kind, piece_kind::finish);
  EXPECT_EQ(pieces[3].text, "stop");
  EXPECT_EQ(answer_script{o}.completion_tokens(), 3u);
}

TEST(answer_script, reasoning_comes_before_the_answer) {
  answer_options o;
  o.reasoning_tokens = 2;
  o.content_tokens = 2;
  auto pieces = all_pieces(o);
  ASSERT_EQ(pieces.size(), 5u);
  EXPECT_EQ(pieces[0].kind, piece_kind::reasoning);
  EXPECT_EQ(pieces[0].text, "Let ");
  EXPECT_EQ(pieces[1].kind, piece_kind::reasoning);
  EXPECT_EQ(pieces[1].text, "me ");
  EXPECT_EQ(pieces[2].kind, piece_kind::content);
  EXPECT_EQ(pieces[4].kind, piece_kind::finish);
  EXPECT_EQ(delta_members(pieces[0]), R"("reasoning_content":"Let ")");
  auto a = assemble(o);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].reasoning, "Let me ");
  EXPECT_EQ(a[0].content, answer_token(0) + answer_token(1));
  EXPECT_EQ(a[0].finish_reason, "stop");
}

TEST(answer_script, a_tool_call_is_split_over_its_fragments_and_joins_to_valid_json) {
  answer_options o;
  o.tool_calls = 1;
  o.tool_fragments = 5;
  o.subject = "Paris";
  auto pieces = all_pieces(o);
  ASSERT_EQ(pieces.size(), 1u + 5u + 1u);
  EXPECT_EQ(pieces[0].kind, piece_kind::tool_call);
  EXPECT_EQ(pieces[0].id, "call_0_0");
  EXPECT_EQ(pieces[0].text, "get_weather");
  EXPECT_EQ(delta_members(pieces[0]),
            R"("tool_calls":[{"index":0,"id":"call_0_0","type":"function","function":)"
            R"({"name":"get_weather","arguments":""}}])");
  std::string args;
  for (std::size_t i = 1; i <= 5; ++i) {
    EXPECT_EQ(pieces[i].kind, piece_kind::arguments);
    EXPECT_FALSE(pieces[i].text.empty());
    args += pieces[i].text;
  }
  EXPECT_EQ(args, R"({"city":"Paris","days":1})");
  EXPECT_EQ(json::parse(args)["city"], "Paris");
  EXPECT_EQ(delta_members(pieces[1]), R"("tool_calls":[{"index":0,"function":{"arguments":)" +
                                          json_quoted(pieces[1].text) + "}}]");
  EXPECT_EQ(json_quoted(R"({"c)"), R"("{\"c")");
  EXPECT_EQ(pieces[6].kind, piece_kind::finish);
  EXPECT_EQ(pieces[6].text, "tool_calls");
}

TEST(answer_script, parallel_tool_calls_have_their_own_index_id_and_name) {
  answer_options o;
  o.tool_calls = 2;
  o.tool_fragments = 3;
  o.tool_names = {"get_weather", "get_time"};
  auto a = assemble(o);
  ASSERT_EQ(a[0].tool_calls.size(), 2u);
  EXPECT_EQ(a[0].tool_calls[0].id, "call_0_0");
  EXPECT_EQ(a[0].tool_calls[0].name, "get_weather");
  EXPECT_EQ(a[0].tool_calls[0].arguments, R"({"city":"Paris","days":1})");
  EXPECT_EQ(a[0].tool_calls[1].id, "call_0_1");
  EXPECT_EQ(a[0].tool_calls[1].name, "get_time");
  EXPECT_EQ(a[0].tool_calls[1].arguments, R"({"city":"Paris","days":2})");
  EXPECT_EQ(a[0].content, "");
  EXPECT_EQ(a[0].finish_reason, "tool_calls");
  // The second call's fragments come after the first call's.
  auto pieces = all_pieces(o);
  EXPECT_EQ(pieces[4].kind, piece_kind::tool_call);
  EXPECT_EQ(pieces[4].tool, 1u);
  EXPECT_EQ(delta_members(pieces[5]).rfind(R"("tool_calls":[{"index":1,)", 0), 0u);
}

TEST(answer_script, two_choices_alternate_and_each_ends_with_its_own_finish) {
  answer_options o;
  o.choices = 2;
  o.content_tokens = 3;
  auto pieces = all_pieces(o);
  ASSERT_EQ(pieces.size(), 8u);
  for (std::size_t i = 0; i < pieces.size(); ++i) EXPECT_EQ(pieces[i].choice, i % 2) << i;
  EXPECT_EQ(pieces[6].kind, piece_kind::finish);
  EXPECT_EQ(pieces[7].kind, piece_kind::finish);
  auto a = assemble(o);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].content, answer_token(0) + answer_token(1) + answer_token(2));
  EXPECT_EQ(a[1].content, answer_token(1) + answer_token(2) + answer_token(3));
  EXPECT_NE(a[0].content, a[1].content);
  EXPECT_EQ(answer_script{o}.completion_tokens(), 6u);
}

TEST(answer_script, tool_calls_of_two_choices_have_ids_per_choice) {
  answer_options o;
  o.choices = 2;
  o.tool_calls = 1;
  auto a = assemble(o);
  EXPECT_EQ(a[0].tool_calls.at(0).id, "call_0_0");
  EXPECT_EQ(a[1].tool_calls.at(0).id, "call_1_0");
  EXPECT_EQ(a[1].tool_calls.at(0).arguments, a[0].tool_calls.at(0).arguments);
}

TEST(answer_script, arguments_escape_the_subject_and_fragments_never_cut_a_character) {
  answer_options o;
  o.tool_calls = 1;
  o.tool_fragments = 40;  // more fragments than characters: some are empty
  o.subject = "Zürich \"Süd\"\n";
  auto args = tool_arguments(o, 0);
  EXPECT_EQ(json::parse(args)["city"], o.subject);
  std::string joined;
  for (std::uint32_t j = 0; j < 40; ++j) {
    auto f = argument_fragment(args, j, 40);
    if (!f.empty()) {
      EXPECT_NE(static_cast<unsigned char>(f[0]) & 0xC0, 0x80) << j;
    }
    joined += f;
    // Each fragment is a JSON string of its own: valid UTF-8 on its own.
    EXPECT_NO_THROW(json::parse(json_quoted(f)));
  }
  EXPECT_EQ(joined, args);
  // A long subject is cut, still at a character boundary.
  o.subject = std::string(63, 'a') + "ü";
  EXPECT_EQ(json::parse(tool_arguments(o, 0))["city"], std::string(63, 'a'));
}

TEST(answer_script, argument_padding_makes_a_big_argument_string) {
  answer_options o;
  o.tool_calls = 1;
  o.argument_padding = 5000;
  auto args = tool_arguments(o, 0);
  EXPECT_GT(args.size(), 5000u);
  EXPECT_EQ(json::parse(args)["pad"].get<std::string>().size(), 5000u);
}

TEST(answer_script, a_content_lead_comes_first) {
  answer_options o;
  o.content_tokens = 1;
  o.content_lead = "The tool answered: 21C\n";
  auto a = assemble(o);
  EXPECT_EQ(a[0].content, "The tool answered: 21C\n" + answer_token(0));
}

TEST(answer_request, tools_in_the_request_make_one_call_of_the_first_tool) {
  answer_options o;
  apply_request(json::parse(R"({"messages":[{"role":"user","content":"Weather in Oslo?"}],
      "tools":[{"type":"function","function":{"name":"lookup"}},
               {"type":"function","function":{"name":"other"}}]})"),
                o);
  EXPECT_EQ(o.tool_calls, 1u);
  EXPECT_EQ(tool_name(o, 0), "lookup");
  EXPECT_EQ(o.subject, "Weather in Oslo?");
  EXPECT_EQ(o.choices, 1u);
}

TEST(answer_request, tool_choice_names_the_tool_or_turns_calls_off) {
  answer_options named;
  apply_request(json::parse(R"({"messages":[{"role":"user","content":"x"}],
      "tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}],
      "tool_choice":{"type":"function","function":{"name":"b"}}})"),
                named);
  EXPECT_EQ(named.tool_calls, 1u);
  EXPECT_EQ(tool_name(named, 0), "b");
  EXPECT_EQ(tool_name(named, 1), "b");

  answer_options none;
  apply_request(json::parse(R"({"messages":[{"role":"user","content":"x"}],
      "tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":"none"})"),
                none);
  EXPECT_EQ(none.tool_calls, 0u);
}

TEST(answer_request, after_a_tool_result_the_answer_quotes_it_in_text) {
  answer_options o;
  apply_request(json::parse(R"({"n":2,"messages":[{"role":"user","content":"x"},
      {"role":"assistant","content":null,"tool_calls":[]},
      {"role":"tool","tool_call_id":"call_0_0","content":"{\"temp\":21}"}],
      "tools":[{"type":"function","function":{"name":"a"}}]})"),
                o);
  EXPECT_EQ(o.tool_calls, 0u);
  EXPECT_EQ(o.content_lead, "The tool answered: {\"temp\":21}\n");
  EXPECT_EQ(o.choices, 2u);
}

TEST(answer_request, anything_odd_in_the_body_is_ignored) {
  for (auto body : {R"([])", R"({"n":"2","messages":{},"tools":{}})",
                    R"({"n":1000,"messages":[1,null],"tools":[1,{"function":[]}]})",
                    R"({"messages":[{"role":"tool","content":[{"text":"a"},{"text":"b"},3]}]})"}) {
    answer_options o;
    apply_request(json::parse(body), o);
    EXPECT_EQ(o.choices, 1u) << body;
    EXPECT_EQ(o.tool_calls, 0u) << body;
  }
  answer_options parts;
  apply_request(
      json::parse(R"({"messages":[{"role":"tool","content":[{"text":"a"},{"text":"b"},3]}]})"),
      parts);
  EXPECT_EQ(parts.content_lead, "The tool answered: ab\n");
}

}  // namespace
}  // namespace streamgate
