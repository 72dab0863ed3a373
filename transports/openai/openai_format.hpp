#pragma once

#include <streamgate/stream_event.hpp>

#include <cstdint>
#include <string>
#include <string_view>

// Rendering of stream events in OpenAI's wire format. Pure functions: unit-tested without
// sockets, shared by every transport that speaks OpenAI's shapes.
namespace streamgate::openai {

struct completion_context {
  std::string id;  // "chatcmpl-<session id>"
  std::string model;
  std::int64_t created = 0;  // unix seconds
};

// OpenAI's error "type" for one of our codes.
const char* error_type(std::string_view code);

// {"error":{"message","type","code"}}
std::string error_body(std::string_view code, std::string_view message);

// A chat.completion.chunk for a delta, in two parts: a completion's delta chunks differ only
// in their content, so the text before it (the head) is made once and each token appends
// head, content and tail. `with_role` adds role "assistant" (the first chunk).
std::string delta_head(const completion_context& ctx, bool with_role);
void append_delta(std::string& out, std::string_view head, std::string_view content);
// A chunk for a piece that is more than choice 0's text (delta_fields, another choice):
// everything the provider sent, in the chunk's, choice's and delta's places, under the
// gateway's own id. `with_role`: the choice's first piece.
void append_piece(std::string& out, const completion_context& ctx, const stream_event& ev,
                  bool with_role);
// The provider's usage object, or one made of the counts when it sent none.
void append_usage(std::string& out, const stream_event& usage);
// The usage chunk (stream_options.include_usage): empty choices.
std::string usage_chunk(const completion_context& ctx, const stream_event& usage);

// One SSE event: "id: <seq>\ndata: <data>\n\n" (no id line when seq is 0).
void append_sse(std::string& out, std::uint64_t seq, std::string_view data);
// The same around data the caller appends in between: begin, data, end.
void begin_sse(std::string& out, std::uint64_t seq);
void end_sse(std::string& out);

}  // namespace streamgate::openai
