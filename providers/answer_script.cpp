#include "providers/answer_script.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace streamgate {
namespace {

constexpr std::array<std::string_view, 24> answer_words{
    "Streaming", "shows",  "every",  "token", "as",     "soon", "as",     "the",
    "model",     "writes", "it,",    "so",    "nobody", "ever", "thinks", "the",
    "answer",    "is",     "stuck;", "stop",  "it",     "at",   "once.",  "Then"};

constexpr std::array<std::string_view, 16> reasoning_words{
    "Let", "me",     "think", "this",  "through:", "the",  "user", "wants",
    "an",  "answer", "that",  "comes", "quickly,", "step", "by",   "step."};

const std::string default_tool = "get_weather";
const std::string default_subject = "Paris";
constexpr std::size_t max_subject_bytes = 64;

// The first byte boundary at or after `i` that does not cut a UTF-8 character.
std::size_t char_boundary(std::string_view s, std::size_t i) {
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  return std::min(i, s.size());
}

}  // namespace

std::string answer_token(std::uint32_t i) {
  std::string t{answer_words[i % answer_words.size()]};
  t += ' ';
  return t;
}

std::string reasoning_token(std::uint32_t i) {
  std::string t{reasoning_words[i % reasoning_words.size()]};
  t += ' ';
  return t;
}

std::string json_quoted(std::string_view s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

const std::string& tool_name(const answer_options& o, std::uint32_t k) {
  return o.tool_names.empty() ? default_tool : o.tool_names[k % o.tool_names.size()];
}

std::string tool_arguments(const answer_options& o, std::uint32_t k) {
  std::string_view subject = o.subject.empty() ? std::string_view{default_subject} : o.subject;
  if (subject.size() > max_subject_bytes) {
    auto cut = max_subject_bytes;
    while (cut > 0 && (static_cast<unsigned char>(subject[cut]) & 0xC0) == 0x80) --cut;
    subject = subject.substr(0, cut);
  }
  std::string out = "{\"city\":" + json_quoted(subject) + ",\"days\":" + std::to_string(k + 1);
  if (o.argument_padding > 0) out += ",\"pad\":\"" + std::string(o.argument_padding, 'x') + "\"";
  out += '}';
  return out;
}

std::string_view argument_fragment(std::string_view arguments, std::uint32_t j, std::uint32_t f) {
  if (f == 0) return j == 0 ? arguments : std::string_view{};
  auto at = [&](std::uint64_t part) {
    return char_boundary(arguments, static_cast<std::size_t>(part * arguments.size() / f));
  };
  auto from = at(j);
  auto to = at(std::uint64_t{j} + 1);
  return arguments.substr(from, to - from);
}

answer_script::answer_script(answer_options options) : opt_(std::move(options)) {
  opt_.choices = std::max<std::uint32_t>(opt_.choices, 1);
  opt_.tool_fragments = std::max<std::uint32_t>(opt_.tool_fragments, 1);
  if (!opt_.content_token)
    opt_.content_token = [](std::uint32_t c, std::uint32_t i) { return answer_token(c + i); };
  std::uint64_t body =
      opt_.tool_calls > 0
          ? std::uint64_t{opt_.tool_calls} * (1 + opt_.tool_fragments)
          : std::uint64_t{opt_.content_tokens} + (opt_.content_lead.empty() ? 0 : 1);
  per_choice_ = opt_.reasoning_tokens + body + 1;
  total_ = per_choice_ * opt_.choices;
  finish_reason_ = opt_.tool_calls > 0 ? "tool_calls" : "stop";
  for (std::uint32_t k = 0; k < opt_.tool_calls; ++k) arguments_.push_back(tool_arguments(opt_, k));
}

std::uint64_t answer_script::completion_tokens() const {
  return (per_choice_ - 1) * opt_.choices;
}

bool answer_script::next(answer_piece& out) {
  if (done()) return false;
  auto choice = static_cast<std::uint32_t>(step_ % opt_.choices);
  auto s = step_ / opt_.choices;  // this choice's own step
  ++step_;
  out = answer_piece{};
  out.choice = choice;
  if (s == per_choice_ - 1) {
    out.kind = piece_kind::finish;
    out.text = finish_reason_;
    return true;
  }
  if (s < opt_.reasoning_tokens) {
    out.kind = piece_kind::reasoning;
    out.text = reasoning_token(static_cast<std::uint32_t>(s));
    return true;
  }
  s -= opt_.reasoning_tokens;
  if (opt_.tool_calls > 0) {
    auto k = static_cast<std::uint32_t>(s / (1 + opt_.tool_fragments));
    auto j = static_cast<std::uint32_t>(s % (1 + opt_.tool_fragments));
    out.tool = k;
    if (j == 0) {
      out.kind = piece_kind::tool_call;
      out.text = tool_name(opt_, k);
      out.id = "call_" + std::to_string(choice) + "_" + std::to_string(k);
    } else {
      out.kind = piece_kind::arguments;
      out.text = std::string{argument_fragment(arguments_[k], j - 1, opt_.tool_fragments)};
    }
    return true;
  }
  out.kind = piece_kind::content;
  if (!opt_.content_lead.empty()) {
    if (s == 0) {
      out.text = opt_.content_lead;
      return true;
    }
    --s;
  }
  out.text = opt_.content_token(choice, static_cast<std::uint32_t>(s));
  return true;
}

std::string delta_members(const answer_piece& p) {
  switch (p.kind) {
    case piece_kind::reasoning:
      return "\"reasoning_content\":" + json_quoted(p.text);
    case piece_kind::content:
      return "\"content\":" + json_quoted(p.text);
    case piece_kind::tool_call:
      return "\"tool_calls\":[{\"index\":" + std::to_string(p.tool) +
             ",\"id\":" + json_quoted(p.id) +
             ",\"type\":\"function\",\"function\":{\"name\":" + json_quoted(p.text) +
             ",\"arguments\":\"\"}}]";
    case piece_kind::arguments:
      return "\"tool_calls\":[{\"index\":" + std::to_string(p.tool) +
             ",\"function\":{\"arguments\":" + json_quoted(p.text) + "}}]";
    case piece_kind::finish:
      break;
  }
  return {};
}

std::vector<assembled_choice> assemble(const answer_options& o) {
  answer_script script{o};
  std::vector<assembled_choice> out(script.options().choices);
  answer_piece p;
  while (script.next(p)) {
    auto& c = out[p.choice];
    switch (p.kind) {
      case piece_kind::reasoning:
        c.reasoning += p.text;
        break;
      case piece_kind::content:
        c.content += p.text;
        break;
      case piece_kind::tool_call:
        c.tool_calls.push_back({p.id, p.text, {}});
        break;
      case piece_kind::arguments:
        c.tool_calls.at(p.tool).arguments += p.text;
        break;
      case piece_kind::finish:
        c.finish_reason = p.text;
        break;
    }
  }
  return out;
}

}  // namespace streamgate
